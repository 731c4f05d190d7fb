// text/utf8.cpp — a strict UTF-8 decoder (no overlongs, no surrogates, nothing above U+10FFFF).
#include "core/utf8.h"

namespace difu {
namespace {

// Valid range of the second byte after each lead byte (Unicode Table 3-7); the others are always 80..BF.
struct LeadInfo {
    int continuation_bytes;  // 0 for an invalid lead byte
    unsigned char second_lo, second_hi;
};

LeadInfo lead_info(unsigned char b) {
    if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
    if (b == 0xE0) return {2, 0xA0, 0xBF};  // no overlongs
    if (b == 0xED) return {2, 0x80, 0x9F};  // no surrogates
    if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
    if (b == 0xF0) return {3, 0x90, 0xBF};  // no overlongs
    if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
    if (b == 0xF4) return {3, 0x80, 0x8F};  // nothing above U+10FFFF
    return {0, 0, 0};
}

}  // namespace

std::u32string utf8_to_u32(std::string_view bytes) {
    std::u32string out;
    out.reserve(bytes.size());
    size_t i = 0;
    while (i < bytes.size()) {
        auto b = static_cast<unsigned char>(bytes[i]);
        if (b < 0x80) {
            out.push_back(b);
            ++i;
            continue;
        }
        LeadInfo info = lead_info(b);
        char32_t c = b & (0x3F >> info.continuation_bytes);
        size_t j = i + 1;
        int have = 0;
        for (; have < info.continuation_bytes && j < bytes.size(); ++have, ++j) {
            auto cb = static_cast<unsigned char>(bytes[j]);
            unsigned char lo = have == 0 ? info.second_lo : 0x80, hi = have == 0 ? info.second_hi : 0xBF;
            if (cb < lo || cb > hi) break;
            c = (c << 6) | (cb & 0x3F);
        }
        // A lead byte and the valid continuation bytes after it form one "maximal subpart": one U+FFFD for it,
        // and decoding resumes at the byte that broke the sequence.
        out.push_back(info.continuation_bytes > 0 && have == info.continuation_bytes ? c : kReplacementChar);
        i = j;
    }
    return out;
}

void append_utf8(std::string& out, char32_t c) {
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = kReplacementChar;
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

std::string u32_to_utf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) append_utf8(out, c);
    return out;
}

}  // namespace difu
