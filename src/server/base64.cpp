// server/base64.cpp — RFC 4648 §4 (standard alphabet, '=' padding).
#include "server/base64.h"

#include <array>

#include "core/error.h"

namespace difu::server {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int8_t kInvalid = -1, kSpace = -2, kPad = -3;

constexpr std::array<int8_t, 256> make_decode_table() {
    std::array<int8_t, 256> t{};
    for (auto& v : t) v = kInvalid;
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
    for (char c : {' ', '\t', '\r', '\n'}) t[static_cast<uint8_t>(c)] = kSpace;
    t['='] = kPad;
    return t;
}
constexpr auto kDecode = make_decode_table();

std::string describe(unsigned char c) {
    if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
    return fmt::format("byte 0x{:02x}", c);
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {  // 3 bytes -> 4 sextets
        const uint32_t v = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
        for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
    }
    const size_t rest = bytes.size() - i;
    if (rest > 0) {
        const uint32_t v = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, const std::string& name) {
    std::vector<uint8_t> out;
    out.reserve(text.size() / 4 * 3 + 3);
    uint32_t acc = 0;
    int sextets = 0;   // in the current group of 4
    size_t pads = 0, symbols = 0;
    for (size_t pos = 0; pos < text.size(); ++pos) {
        const auto c = static_cast<unsigned char>(text[pos]);
        const int8_t v = kDecode[c];
        if (v == kSpace) continue;
        if (v == kInvalid) throw Error::at(name, "invalid base64: {} at offset {}", describe(c), pos);
        if (v == kPad) {
            ++pads;
            continue;
        }
        if (pads > 0) throw Error::at(name, "invalid base64: data after '=' padding at offset {}", pos);
        acc = acc << 6 | static_cast<uint32_t>(v);
        ++symbols;
        if (++sextets == 4) {
            out.push_back(static_cast<uint8_t>(acc >> 16));
            out.push_back(static_cast<uint8_t>(acc >> 8));
            out.push_back(static_cast<uint8_t>(acc));
            acc = 0;
            sextets = 0;
        }
    }
    // A final group of 2 or 3 sextets carries 1 or 2 bytes; a lone sextet carries none.
    if (sextets == 1) throw Error::at(name, "invalid base64: {} symbols is not a length any encoding produces", symbols);
    const size_t expected_pads = sextets == 0 ? 0 : 4 - static_cast<size_t>(sextets);
    if (pads != 0 && pads != expected_pads)
        throw Error::at(name, "invalid base64: {} '=' where the length needs {}", pads, expected_pads);
    if (sextets == 2) out.push_back(static_cast<uint8_t>(acc >> 4));
    if (sextets == 3) {
        out.push_back(static_cast<uint8_t>(acc >> 10));
        out.push_back(static_cast<uint8_t>(acc >> 2));
    }
    return out;
}

std::string_view strip_data_url(std::string_view text) {
    constexpr std::string_view kScheme = "data:", kMarker = ";base64,";
    constexpr size_t kMaxHeader = 256;  // "data:image/png;base64," and parameters; never scan a whole payload
    if (text.substr(0, kScheme.size()) != kScheme) return text;
    const size_t at = text.substr(0, kMaxHeader).find(kMarker);
    return at == std::string_view::npos ? text : text.substr(at + kMarker.size());
}

}  // namespace difu::server
