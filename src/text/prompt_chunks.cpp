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

    // The token at tokens[position] of a segment; returns how many tokens it consumed (an embedding's
    // name may span several).
    size_t add(std::span<const int> tokens, size_t position, float weight, const EmbeddingVocabulary* embeddings) {
        const int token = tokens[position];
        if (token == kClipCommaToken) {
            last_comma_ = static_cast<int>(tokens_.size());
        } else if (backtrack_ != 0 && full() && last_comma_ != -1 &&
                   kPromptChunkTokens - last_comma_ <= backtrack_) {
            move_after_last_comma_to_next_chunk();
        }
        if (full()) next_chunk(false);
        const auto match = embeddings ? embeddings->find(tokens, position) : std::nullopt;
        if (!match) {
            tokens_.push_back(token);
            weights_.push_back(weight);
            return 1;
        }
        if (static_cast<int>(tokens_.size()) + match->vectors > kPromptChunkTokens) next_chunk(false);
        fixes_.push_back({static_cast<int>(tokens_.size()), match->index});
        tokens_.insert(tokens_.end(), static_cast<size_t>(match->vectors), 0);
        weights_.insert(weights_.end(), static_cast<size_t>(match->vectors), weight);
        return match->name_tokens;
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
        // An embedding longer than a chunk (webui lets it overflow too) is cut at the chunk's end.
        const size_t n = std::min(tokens_.size(), static_cast<size_t>(kPromptChunkTokens));
        std::copy_n(tokens_.begin(), n, chunk.ids.begin() + 1);
        std::copy_n(weights_.begin(), n, chunk.weights.begin() + 1);
        chunk.fixes = std::move(fixes_);
        result_.chunks.push_back(chunk);
        tokens_.clear();
        weights_.clear();
        fixes_.clear();
        last_comma_ = -1;
    }

    int backtrack_;
    std::vector<int> tokens_;    // at most 75: the chunk being filled, without start/end
    std::vector<float> weights_;
    // Embeddings placed in the chunk being filled. A comma backtrack moves tokens, not these (as webui).
    std::vector<ChunkFix> fixes_;
    int last_comma_ = -1;        // index in tokens_ of the chunk's last comma
    TokenizedPrompt result_;
};

}  // namespace

void EmbeddingVocabulary::add(std::vector<int> name_ids, int vectors, int index) {
    if (name_ids.empty() || vectors < 1) return;
    auto& list = by_first_[name_ids.front()];
    list.push_back({std::move(name_ids), vectors, index});
    std::stable_sort(list.begin(), list.end(), [](const Entry& a, const Entry& b) { return a.ids.size() > b.ids.size(); });
}

std::optional<EmbeddingVocabulary::Match> EmbeddingVocabulary::find(std::span<const int> tokens, size_t position) const {
    auto it = by_first_.find(tokens[position]);
    if (it == by_first_.end()) return std::nullopt;
    for (const Entry& e : it->second)
        if (position + e.ids.size() <= tokens.size() && std::equal(e.ids.begin(), e.ids.end(), tokens.begin() + static_cast<std::ptrdiff_t>(position)))
            return Match{e.index, e.vectors, e.ids.size()};
    return std::nullopt;
}

TokenizedPrompt tokenize_segments(const ClipTokenizer& tokenizer, const std::vector<PromptSegment>& segments,
                                  int comma_padding_backtrack, const EmbeddingVocabulary* embeddings) {
    ChunkBuilder builder(comma_padding_backtrack);
    for (const PromptSegment& segment : segments) {
        if (segment.is_break()) {
            builder.force_break();
            continue;
        }
        const float weight = to_float32(segment.weight);
        const std::vector<int> tokens = tokenizer.encode(segment.text);
        for (size_t position = 0; position < tokens.size();) position += builder.add(tokens, position, weight, embeddings);
    }
    return builder.finish();
}

TokenizedPrompt tokenize_prompt(const ClipTokenizer& tokenizer, std::string_view prompt, int comma_padding_backtrack,
                                const EmbeddingVocabulary* embeddings) {
    return tokenize_segments(tokenizer, parse_prompt_attention(prompt), comma_padding_backtrack, embeddings);
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
