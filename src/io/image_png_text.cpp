// io/image_png_text.cpp — the text chunks of a PNG (tEXt, zTXt, iTXt; PNG spec §11.3.4), read by
// walking the chunk list directly, so that reading webui's "parameters" never decodes the pixels.
// Chunk := length (u32 BE) · type (4 bytes) · data · CRC-32 (over type and data).
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/image_codecs.h"

namespace difu::image_detail {
namespace {

// Pillow's limits (PngImagePlugin.MAX_TEXT_CHUNK, MAX_TEXT_MEMORY): one decompressed text chunk
// may hold 1 MiB, all of them together 64 MiB; past that is a decompression bomb, not a prompt.
constexpr size_t kMaxTextChunk = size_t{1} << 20;
constexpr size_t kMaxTextMemory = 64 * kMaxTextChunk;
constexpr size_t kPngSignatureBytes = 8;
constexpr uint32_t kMaxChunkLength = 0x7FFFFFFF;  // the spec's bound on a chunk's length field

uint32_t be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string inflate_text(const std::string& name, const std::string& raw_key, std::span<const uint8_t> z) {
    const std::string key = printable(raw_key);
    z_stream s{};
    if (inflateInit(&s) != Z_OK) throw Error::at(name, "PNG text '{}': cannot initialise zlib", key);
    s.next_in = const_cast<Bytef*>(z.data());
    s.avail_in = static_cast<uInt>(z.size());
    std::string out;
    int rc = Z_OK;
    while (rc == Z_OK) {
        const size_t have = out.size();
        if (have >= kMaxTextChunk) break;
        out.resize(std::min(kMaxTextChunk, have + 64 * 1024));
        s.next_out = reinterpret_cast<Bytef*>(out.data() + have);
        s.avail_out = static_cast<uInt>(out.size() - have);
        rc = inflate(&s, Z_NO_FLUSH);
        out.resize(out.size() - s.avail_out);
        if (rc == Z_BUF_ERROR && s.avail_in == 0) break;  // input ended before the stream did
    }
    inflateEnd(&s);
    if (rc == Z_STREAM_END) return out;
    if (out.size() >= kMaxTextChunk)
        throw Error::at(name, "PNG text '{}' decompresses to more than {} bytes", key, kMaxTextChunk);
    throw Error::at(name, "PNG text '{}': compressed data is corrupt or truncated", key);
}

// Splits "key\0rest" and checks the key (1-79 bytes, PNG spec).
std::pair<std::string, std::span<const uint8_t>> split_keyword(const std::string& name, const char* type,
                                                               std::span<const uint8_t> data) {
    const auto* nul = static_cast<const uint8_t*>(std::memchr(data.data(), 0, data.size()));
    if (!nul) throw Error::at(name, "PNG {} chunk has no NUL after its keyword", type);
    const size_t n = nul - data.data();
    if (n == 0 || n > 79) throw Error::at(name, "PNG {} chunk keyword is {} bytes (1-79 allowed)", type, n);
    return {latin1_to_utf8({reinterpret_cast<const char*>(data.data()), n}), data.subspan(n + 1)};
}

std::string as_string(std::span<const uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Returns false for an iTXt whose text is not UTF-8, which Pillow drops too.
bool parse_text_chunk(const std::string& name, const std::string& type, std::span<const uint8_t> data,
                      std::pair<std::string, std::string>* out) {
    auto [raw_key, rest] = split_keyword(name, type.c_str(), data);
    out->first = raw_key;
    const std::string key = printable(raw_key);
    if (type == "tEXt") {
        out->second = latin1_to_utf8(as_string(rest));
        return true;
    }
    if (type == "zTXt") {
        if (rest.empty() || rest[0] != 0) throw Error::at(name, "PNG zTXt '{}' has an unknown compression method", key);
        out->second = latin1_to_utf8(inflate_text(name, raw_key, rest.subspan(1)));
        return true;
    }
    // iTXt: compression flag · method · language tag \0 · translated keyword \0 · UTF-8 text
    if (rest.size() < 2) throw Error::at(name, "PNG iTXt '{}' is truncated", key);
    const bool compressed = rest[0] != 0;
    if (compressed && rest[1] != 0) throw Error::at(name, "PNG iTXt '{}' has an unknown compression method", key);
    auto tail = rest.subspan(2);
    for (int field = 0; field < 2; ++field) {  // skip the language tag and the translated keyword
        const auto* nul = static_cast<const uint8_t*>(std::memchr(tail.data(), 0, tail.size()));
        if (!nul) throw Error::at(name, "PNG iTXt '{}' is truncated", key);
        tail = tail.subspan(nul - tail.data() + 1);
    }
    out->second = compressed ? inflate_text(name, raw_key, tail) : as_string(tail);
    std::u32string cps;
    return decode_utf8(out->second, &cps);
}

}  // namespace
}  // namespace difu::image_detail

namespace difu {

using namespace image_detail;

TextChunks decode_png_text(const std::string& name, std::span<const uint8_t> bytes) {
    static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (bytes.size() < kPngSignatureBytes || std::memcmp(bytes.data(), kSignature, kPngSignatureBytes) != 0)
        throw Error::at(name, "not a PNG file (no PNG signature)");
    TextChunks out;
    size_t total = 0;
    for (size_t pos = kPngSignatureBytes;;) {
        if (bytes.size() - pos < 8) throw Error::at(name, "PNG ends at byte {} without an IEND chunk (truncated?)", pos);
        const uint32_t length = be32(bytes.data() + pos);
        const std::string type = printable(as_string(bytes.subspan(pos + 4, 4)));
        if (length > kMaxChunkLength || bytes.size() - pos - 8 < uint64_t{length} + 4)
            throw Error::at(name, "PNG chunk '{}' at byte {} claims {} bytes, past the end of the file (truncated?)",
                            type, pos, length);
        if (type == "IEND") break;
        if (type == "tEXt" || type == "zTXt" || type == "iTXt") {
            const auto body = bytes.subspan(pos + 8, length);
            const uint32_t crc = static_cast<uint32_t>(crc32(0, bytes.data() + pos + 4, length + 4));
            if (crc != be32(bytes.data() + pos + 8 + length))
                throw Error::at(name, "PNG {} chunk at byte {} has a bad CRC (corrupt file)", type, pos);
            std::pair<std::string, std::string> kv;
            if (parse_text_chunk(name, type, body, &kv)) {
                total += kv.second.size();
                if (total > kMaxTextMemory)
                    throw Error::at(name, "PNG text chunks hold more than {} bytes in all", kMaxTextMemory);
                out.push_back(std::move(kv));
            }
        }
        pos += size_t{length} + 12;
    }
    return out;
}

}  // namespace difu
