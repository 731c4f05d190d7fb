// text/clip_tokenizer.cpp — vocabulary loading and byte-level BPE, following clip/simple_tokenizer.py:
//   merges = lines[1 : 49152-256-2+1];  vocab = bytes + (bytes + "</w>") + merges + specials;
//   bpe(word): repeatedly merge every occurrence of the lowest-ranked adjacent pair, left to right.
#include "text/clip_tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <queue>

#include "core/error.h"
#include "text/clip_pretokenizer.h"
#include "core/utf8.h"

namespace difu {
namespace {

constexpr int kClipMergeCount = 49152 - 256 - 2;   // 48894: simple_tokenizer's lines[1 : 49152-256-2+1]
constexpr std::string_view kEndOfWord = "</w>";
constexpr std::string_view kStartText = "<|startoftext|>";
constexpr std::string_view kEndText = "<|endoftext|>";
constexpr size_t kCacheMaxEntries = 1 << 16;      // Python's cache grows without bound; this one is cleared
constexpr size_t kCacheMaxWordBytes = 256;        // when full, and long (hostile) words are not kept at all

using Alphabet = std::vector<std::pair<unsigned char, char32_t>>;  // (byte, code point of its symbol)
using Merges = std::vector<std::pair<std::string, std::string>>;

// bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100.. in order.
// Returned in vocabulary order.
Alphabet bytes_to_unicode() {
    Alphabet table;
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    for (int b = 0; b < 256; ++b)
        if (printable(b)) table.emplace_back(static_cast<unsigned char>(b), static_cast<char32_t>(b));
    char32_t next = 256;
    for (int b = 0; b < 256; ++b)
        if (!printable(b)) table.emplace_back(static_cast<unsigned char>(b), next++);
    return table;
}

std::string read_gzip_file(const std::string& path) {
    std::unique_ptr<gzFile_s, decltype(&gzclose)> f(gzopen(path.c_str(), "rb"), &gzclose);
    if (!f) throw Error::at(path, "cannot open the CLIP vocabulary: {}", std::strerror(errno));
    std::string data;
    std::vector<char> buf(1 << 16);
    int n = 0;
    while ((n = gzread(f.get(), buf.data(), static_cast<unsigned>(buf.size()))) > 0) data.append(buf.data(), n);
    if (n < 0) {
        int code = 0;
        throw Error::at(path, "cannot read the CLIP vocabulary: {}", gzerror(f.get(), &code));
    }
    return data;
}

// The first `count` merge lines after the version line, each "left right".
Merges parse_merges(const std::string& path, std::string_view text, int count) {
    Merges merges;
    size_t pos = text.find('\n');
    for (int line = 2; static_cast<int>(merges.size()) < count; ++line) {
        if (pos == std::string_view::npos)
            throw Error::at(path, "has {} merges, CLIP needs {} (truncated file?)", merges.size(), count);
        size_t end = text.find('\n', pos + 1);
        std::string_view l = text.substr(pos + 1, end == std::string_view::npos ? end : end - pos - 1);
        size_t space = l.find(' ');
        if (space == 0 || space == std::string_view::npos || l.find(' ', space + 1) != std::string_view::npos)
            throw Error::at(path, "line {}: expected a merge 'left right', got '{}'", line, l);
        merges.emplace_back(std::string(l.substr(0, space)), std::string(l.substr(space + 1)));
        pos = end;
    }
    return merges;
}

uint64_t pair_key(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// simple_tokenizer's vocab list: byte symbols, the same with "</w>", one per merge, the two specials.
std::vector<std::string> build_vocab(const Alphabet& alphabet, const Merges& merges) {
    std::vector<std::string> vocab;
    for (auto [byte, symbol] : alphabet) vocab.push_back(u32_to_utf8(std::u32string(1, symbol)));
    for (size_t i = 0; i < alphabet.size(); ++i) vocab.push_back(vocab[i] + std::string(kEndOfWord));
    for (const auto& [left, right] : merges) vocab.push_back(left + right);
    vocab.emplace_back(kStartText);
    vocab.emplace_back(kEndText);
    return vocab;
}

// The raw bytes each id stands for, for decode: every symbol character back to its byte ("</w>" is made of
// printable bytes, which stand for themselves).
std::vector<std::string> vocab_to_bytes(const std::string& path, const Alphabet& alphabet,
                                        const std::vector<std::string>& vocab) {
    std::unordered_map<char32_t, unsigned char> symbol_byte;
    for (auto [byte, symbol] : alphabet) symbol_byte[symbol] = byte;
    std::vector<std::string> out;
    out.reserve(vocab.size());
    for (size_t id = 0; id < vocab.size(); ++id) {
        std::string bytes;
        for (char32_t c : utf8_to_u32(vocab[id])) {
            auto it = symbol_byte.find(c);
            if (it == symbol_byte.end())
                throw Error::at(path, "token {} ('{}') has a character outside the byte alphabet", id, vocab[id]);
            bytes.push_back(static_cast<char>(it->second));
        }
        out.push_back(std::move(bytes));
    }
    return out;
}

}  // namespace

ClipTokenizer::ClipTokenizer(const std::string& merges_path) {
    auto merges = parse_merges(merges_path, read_gzip_file(merges_path), kClipMergeCount);
    auto alphabet = bytes_to_unicode();
    for (size_t id = 0; id < alphabet.size(); ++id) byte_symbol_[alphabet[id].first] = static_cast<int>(id);
    std::vector<std::string> vocab = build_vocab(alphabet, merges);
    index_merges(merges_path, vocab, merges);
    vocab_bytes_ = vocab_to_bytes(merges_path, alphabet, vocab);
}

// encoder = dict(zip(vocab, range(len(vocab)))), bpe_ranks = dict(zip(merges, range(len(merges)))), keyed by ids.
void ClipTokenizer::index_merges(const std::string& path, const std::vector<std::string>& vocab,
                                 const std::vector<std::pair<std::string, std::string>>& merges) {
    std::unordered_map<std::string, int> encoder;
    for (size_t id = 0; id < vocab.size(); ++id) encoder[vocab[id]] = static_cast<int>(id);  // later ids win
    if (vocab.size() != kClipVocabSize || encoder.at(std::string(kStartText)) != kClipStartToken)
        throw Error::at(path, "gives a vocabulary of {} entries, CLIP has {}", vocab.size(), kClipVocabSize);
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [left, right] = merges[rank];
        auto l = encoder.find(left), r = encoder.find(right);
        if (l == encoder.end() || r == encoder.end()) continue;  // can never be adjacent in a word
        merges_[pair_key(l->second, r->second)] = Merge{static_cast<int>(rank), encoder.at(left + right)};
    }
}

ClipVocabulary read_clip_vocabulary(const std::string& merges_path) {
    const std::string path = merges_path.empty() ? DIFU_DATA_DIR "/clip/bpe_simple_vocab_16e6.txt.gz" : merges_path;
    ClipVocabulary v;
    v.merges = parse_merges(path, read_gzip_file(path), kClipMergeCount);
    v.tokens = build_vocab(bytes_to_unicode(), v.merges);
    return v;
}

const ClipTokenizer& ClipTokenizer::default_instance() {
    static const ClipTokenizer instance(DIFU_DATA_DIR "/clip/bpe_simple_vocab_16e6.txt.gz");
    return instance;
}

std::vector<int> ClipTokenizer::encode(std::string_view text) const {
    std::u32string cleaned = clip_clean_text(utf8_to_u32(text));
    std::vector<int> ids;
    for (std::u32string_view word : clip_split_words(cleaned)) {
        std::vector<int> piece = bpe(u32_to_utf8(word));
        ids.insert(ids.end(), piece.begin(), piece.end());
    }
    return ids;
}

std::string ClipTokenizer::decode(std::span<const int> ids) const {
    std::string bytes;
    for (int id : ids) {
        if (id < 0 || id >= static_cast<int>(vocab_bytes_.size()))
            throw Error::make("CLIP token id {} is outside the vocabulary (0..{})", id, vocab_bytes_.size() - 1);
        bytes += vocab_bytes_[static_cast<size_t>(id)];
    }
    std::string text = u32_to_utf8(utf8_to_u32(bytes));  // errors="replace"
    std::string out;
    for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kEndOfWord.size(), kEndOfWord) == 0) {
            out.push_back(' ');
            i += kEndOfWord.size();
        } else {
            out.push_back(text[i++]);
        }
    }
    return out;
}

const ClipTokenizer::Merge* ClipTokenizer::find_merge(int left, int right) const {
    auto it = merges_.find(pair_key(left, right));
    return it == merges_.end() ? nullptr : &it->second;
}

std::vector<int> ClipTokenizer::bpe(std::string_view word) const {
    if (word == kStartText) return {kClipStartToken};  // simple_tokenizer's cache is seeded with the two specials
    if (word == kEndText) return {kClipEndToken};
    bool cacheable = word.size() <= kCacheMaxWordBytes;
    if (cacheable) {
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(std::string(word)); it != cache_.end()) return it->second;
    }
    std::vector<int> ids = bpe_uncached(word);
    if (cacheable) {
        std::lock_guard lock(cache_mutex_);
        if (cache_.size() >= kCacheMaxEntries) cache_.clear();
        cache_.emplace(std::string(word), ids);
    }
    return ids;
}

// Python's loop rescans the word once per merge (quadratic in its length). This is the same algorithm on a
// linked list with a heap of candidate pairs: each round takes every candidate of the lowest rank, in position
// order, and applies those still present — exactly one Python `while True` iteration. Pairs a round creates
// only take part in later rounds, as in Python (a merged symbol is never one of the two it merged, so a round
// cannot create another pair of its own rank).
std::vector<int> ClipTokenizer::bpe_uncached(std::string_view word) const {
    if (word.empty()) return {};
    const int n = static_cast<int>(word.size());
    std::vector<int> symbol(word.size()), prev(word.size()), next(word.size());
    for (int i = 0; i < n; ++i) {
        symbol[i] = byte_symbol_[static_cast<unsigned char>(word[i])];
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    symbol[n - 1] += 256;  // the last symbol carries "</w>"

    struct Candidate {
        int rank, left, right, left_symbol, right_symbol;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto push_pair = [&](int left) {
        if (left < 0 || next[left] < 0) return;
        if (const Merge* m = find_merge(symbol[left], symbol[next[left]]))
            heap.push({m->rank, left, next[left], symbol[left], symbol[next[left]]});
    };
    for (int i = 0; i + 1 < n; ++i) push_pair(i);

    std::vector<bool> alive(word.size(), true);
    std::vector<Candidate> round;
    while (!heap.empty()) {
        round.clear();
        for (int rank = heap.top().rank; !heap.empty() && heap.top().rank == rank; heap.pop()) round.push_back(heap.top());
        for (const Candidate& c : round) {
            bool still_there = alive[c.left] && alive[c.right] && next[c.left] == c.right &&
                               symbol[c.left] == c.left_symbol && symbol[c.right] == c.right_symbol;
            if (!still_there) continue;  // overlapped by a merge to its left ("a a a"), or stale
            symbol[c.left] = find_merge(c.left_symbol, c.right_symbol)->result;
            alive[c.right] = false;
            next[c.left] = next[c.right];
            if (next[c.left] >= 0) prev[next[c.left]] = c.left;
            push_pair(prev[c.left]);
            push_pair(c.left);
        }
    }
    std::vector<int> ids;
    for (int i = 0; i >= 0; i = next[i]) ids.push_back(symbol[i]);
    return ids;
}

}  // namespace difu
