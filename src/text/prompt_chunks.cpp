// text/prompt_chunks.cpp — tokenize_line's chunk assembly, one webui step per function.
#include "text/prompt_chunks.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace difu {
namespace {

// Python float -> torch float32 (round to nearest; beyond the float range gives inf, which a plain cast
// does not promise).
float to_float32(double w) {
    constexpr double kRoundsToInfinity = 0x1.ffffffp127;  // halfway between FLT_MAX and 2^128
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (std::isfinite(w) && std::fabs(w) >= kRoundsToInfinity) return w > 0 ? kInf : -kInf;
    return static_cast<float>(w);
}

// The `chunk` and `next_chunk` closure of tokenize_line.
class ChunkBuilder {
public:
    explicit ChunkBuilder(int comma_padding_backtrack) : backtrack_(comma_padding_backtrack) {}

    void add(int token, float weight) {
        if (token == kClipCommaToken) {
            last_comma_ = static_cast<int>(tokens_.size());
        } else if (backtrack_ != 0 && full() && last_comma_ != -1 &&
                   kPromptChunkTokens - last_comma_ <= backtrack_) {
            move_after_last_comma_to_next_chunk();
        }
        if (full()) next_chunk(false);
        // Textual-inversion embeddings would be recognised here (embedding_db.find_embedding_at_position):
        // their vectors take emb_len placeholder slots, starting a new chunk if they do not fit. Not supported yet.
        tokens_.push_back(token);
        weights_.push_back(weight);
    }

    void force_break() { next_chunk(false); }  // BREAK: ends the chunk even if it is empty

    TokenizedPrompt finish() {
        if (!tokens_.empty() || result_.chunks.empty()) next_chunk(true);
        return std::move(result_);
    }

private:
    bool full() const { return tokens_.size() == static_cast<size_t>(kPromptChunkTokens); }

    void move_after_last_comma_to_next_chunk() {
        auto cut = static_cast<std::ptrdiff_t>(last_comma_ + 1);
        std::vector<int> moved_tokens(tokens_.begin() + cut, tokens_.end());
        std::vector<float> moved_weights(weights_.begin() + cut, weights_.end());
        tokens_.resize(static_cast<size_t>(cut));
        weights_.resize(static_cast<size_t>(cut));
        next_chunk(false);
        tokens_ = std::move(moved_tokens);
        weights_ = std::move(moved_weights);
    }

    // Pads to 75 with the end token, wraps in start/end; the last chunk counts only its real tokens.
    void next_chunk(bool is_last) {
        result_.token_count += is_last ? static_cast<int>(tokens_.size()) : kPromptChunkTokens;
        PromptChunk chunk;
        chunk.ids.fill(kClipEndToken);
        chunk.weights.fill(1.0f);
        chunk.ids[0] = kClipStartToken;
        std::copy(tokens_.begin(), tokens_.end(), chunk.ids.begin() + 1);
        std::copy(weights_.begin(), weights_.end(), chunk.weights.begin() + 1);
        result_.chunks.push_back(chunk);
        tokens_.clear();
        weights_.clear();
        last_comma_ = -1;
    }

    int backtrack_;
    std::vector<int> tokens_;    // at most 75: the chunk being filled, without start/end
    std::vector<float> weights_;
    int last_comma_ = -1;        // index in tokens_ of the chunk's last comma
    TokenizedPrompt result_;
};

}  // namespace

TokenizedPrompt tokenize_segments(const ClipTokenizer& tokenizer, const std::vector<PromptSegment>& segments,
                                  int comma_padding_backtrack) {
    ChunkBuilder builder(comma_padding_backtrack);
    for (const PromptSegment& segment : segments) {
        if (segment.is_break()) {
            builder.force_break();
            continue;
        }
        float weight = to_float32(segment.weight);
        for (int token : tokenizer.encode(segment.text)) builder.add(token, weight);
    }
    return builder.finish();
}

TokenizedPrompt tokenize_prompt(const ClipTokenizer& tokenizer, std::string_view prompt, int comma_padding_backtrack) {
    return tokenize_segments(tokenizer, parse_prompt_attention(prompt), comma_padding_backtrack);
}

std::array<int, kClipChunkLength> ids_77(std::span<const int> bpe_ids) {
    std::array<int, kClipChunkLength> ids;
    ids.fill(kClipEndToken);
    ids[0] = kClipStartToken;
    size_t n = std::min(bpe_ids.size(), static_cast<size_t>(kPromptChunkTokens));
    std::copy_n(bpe_ids.begin(), n, ids.begin() + 1);
    return ids;  // ids[n + 1] is the end token, and so is every padding slot after it
}

std::array<int, kClipChunkLength> ids_77(const ClipTokenizer& tokenizer, std::string_view text) {
    return ids_77(tokenizer.encode(text));
}

}  // namespace difu
