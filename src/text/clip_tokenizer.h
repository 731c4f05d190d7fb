// text/clip_tokenizer.h — openai's CLIP BPE tokenizer (clip/simple_tokenizer.py), the one SD 1.x was trained with.
// ids = BPE(byte-level symbols of each word of clip_split_words(clip_clean_text(text))); see clip_pretokenizer.h for
// the text cleanup (ftfy.fix_text is not reproduced).
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace difu {

inline constexpr int kClipVocabSize = 49408;     // 256 bytes + 256 bytes+"</w>" + 48894 merges + 2 specials
inline constexpr int kClipStartToken = 49406;    // <|startoftext|>
inline constexpr int kClipEndToken = 49407;      // <|endoftext|>, also the padding token of SD 1.x
inline constexpr int kClipCommaToken = 267;      // ",</w>"
inline constexpr int kClipChunkLength = 77;      // the text encoder's context: start + 75 tokens + end

// simple_tokenizer's vocabulary as its files spell it: the tokens in id order (byte symbols, the same
// with "</w>", one per merge, the two specials) and the merges in rank order.
struct ClipVocabulary {
    std::vector<std::string> tokens;
    std::vector<std::pair<std::string, std::string>> merges;
};
// From the gzip'd merges file; DIFU_DATA_DIR's when `merges_path` is empty. Throws Error naming the file.
ClipVocabulary read_clip_vocabulary(const std::string& merges_path = "");

class ClipTokenizer {
public:
    // Loads the gzip'd merges file (bpe_simple_vocab_16e6.txt.gz); throws difu::Error naming the file.
    explicit ClipTokenizer(const std::string& merges_path);

    // The vocabulary shipped in DIFU_DATA_DIR/clip/, loaded once on first use; thread-safe.
    static const ClipTokenizer& default_instance();

    // BPE ids of `text` (UTF-8; ill-formed bytes read as U+FFFD), without start/end tokens.
    std::vector<int> encode(std::string_view text) const;

    // simple_tokenizer's decode: the symbols' bytes joined, "</w>" read as a space; throws on an id out of range.
    std::string decode(std::span<const int> ids) const;

private:
    struct Merge {
        int rank;    // position in the merges file: lower merges first
        int result;  // id of the merged symbol
    };

    void index_merges(const std::string& path, const std::vector<std::string>& vocab,
                      const std::vector<std::pair<std::string, std::string>>& merges);
    std::vector<int> bpe(std::string_view word_utf8) const;
    std::vector<int> bpe_uncached(std::string_view word_utf8) const;
    const Merge* find_merge(int left, int right) const;

    std::array<int, 256> byte_symbol_{};              // byte -> id of its one-byte symbol (bytes_to_unicode order)
    std::vector<std::string> vocab_bytes_;            // id -> the raw bytes it stands for (+"</w>"), for decode
    std::unordered_map<uint64_t, Merge> merges_;      // (left id << 32 | right id) -> merge

    mutable std::mutex cache_mutex_;                  // encode is const and shared across threads
    mutable std::unordered_map<std::string, std::vector<int>> cache_;
};

}  // namespace difu
