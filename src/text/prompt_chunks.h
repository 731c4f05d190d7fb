// text/prompt_chunks.h — webui's FrozenCLIPEmbedderWithCustomWords.tokenize_line (modules/sd_hijack_clip.py) for
// SD 1.x: a weighted prompt becomes 77-token chunks [start, 75 prompt tokens (end-padded), end], each encoded by
// CLIP on its own and concatenated, which lifts CLIP's 77-token limit.
#pragma once
#include <array>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "text/clip_tokenizer.h"
#include "text/prompt_parser.h"

namespace difu {

inline constexpr int kPromptChunkTokens = kClipChunkLength - 2;  // 75: webui's chunk_length
inline constexpr int kCommaPaddingBacktrack = 20;               // webui's opts.comma_padding_backtrack default

// An embedding's vectors in a chunk (webui's PromptChunkFix): they replace the token embeddings from
// position offset + 1 (after the start token) on; their slots hold token id 0.
struct ChunkFix {
    int offset;     // among the chunk's prompt tokens (0 = the first after the start token)
    int embedding;  // index in the EmbeddingVocabulary
};

struct PromptChunk {
    std::array<int, kClipChunkLength> ids;        // [49406, t1..t75, 49407], short chunks padded with 49407
    std::array<float, kClipChunkLength> weights;  // per token; 1.0 for start, end and padding
    std::vector<ChunkFix> fixes;
};

// Textual-inversion embeddings as the tokenizer meets them (webui's EmbeddingDatabase.ids_lookup): an
// embedding is found where the token ids of its name start, the longest name first.
class EmbeddingVocabulary {
public:
    // `name_ids`: the BPE ids of the embedding's name; `vectors`: how many token slots it takes.
    void add(std::vector<int> name_ids, int vectors, int index);
    struct Match {
        int index, vectors;
        size_t name_tokens;
    };
    std::optional<Match> find(std::span<const int> tokens, size_t position) const;
    bool empty() const { return by_first_.empty(); }

private:
    struct Entry {
        std::vector<int> ids;
        int vectors, index;
    };
    std::map<int, std::vector<Entry>> by_first_;  // first name id -> entries, longest name first
};

struct TokenizedPrompt {
    std::vector<PromptChunk> chunks;  // at least one
    int token_count = 0;              // as webui shows it ("12/75"): 75 per full chunk + tokens of the last
};

// parse_prompt_attention + tokenize_line. When a chunk is full and its last comma is at most
// `comma_padding_backtrack` tokens back, the tokens after that comma move to the next chunk (0 disables).
// `embeddings`, when given, places textual-inversion embeddings as webui's tokenize_line does: emb_len
// slots of weight `segment weight`, starting a new chunk when they do not fit in this one.
TokenizedPrompt tokenize_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                int comma_padding_backtrack = kCommaPaddingBacktrack,
                                const EmbeddingVocabulary* embeddings = nullptr);
TokenizedPrompt tokenize_segments(const ClipTokenizer& tokenizer, const std::vector<PromptSegment>& segments,
                                  int comma_padding_backtrack = kCommaPaddingBacktrack,
                                  const EmbeddingVocabulary* embeddings = nullptr);

// The original SD v1 / CompVis convention, no weighting syntax: [49406] + bpe_ids[:75] + [49407], padded with
// 49407 to 77 (the rest of a long prompt is cut off).
std::array<int, kClipChunkLength> ids_77(std::span<const int> bpe_ids);
std::array<int, kClipChunkLength> ids_77(const ClipTokenizer& tokenizer, std::string_view text);

}  // namespace difu
