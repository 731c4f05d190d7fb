// text/html_unescape.cpp — a scanner for CPython's
//   _charref = re.compile(r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)')
// and its _replace_charref; the tables are CPython 3.11's html/__init__.py.
#include "text/html_unescape.h"

#include <optional>
#include <utility>

#include "text/html_entities.h"
#include "core/utf8.h"

namespace difu {
namespace {

constexpr size_t kMaxEntityNameLength = 32;     // {1,32} in _charref
constexpr char32_t kBeyondUnicode = 0x110000;   // numbers saturate here: int() has no limit, the result is U+FFFD

// _invalid_charrefs for 0x80..0x9F: the C1 range read as Windows-1252, as browsers do (0x81, 0x8D, 0x8F, 0x90,
// 0x9D have no cp1252 meaning and stay themselves).
constexpr char32_t kCp1252C1[32] = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
    0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, 0x9D,   0x017E, 0x0178};

// _invalid_codepoints: controls other than \t \n \f \r, DEL and C1, and the Unicode non-characters.
bool is_dropped_codepoint(char32_t c) {
    if ((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || (c >= 0x7F && c <= 0x9F)) return true;
    return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}

// What a numeric reference &#num; turns into (possibly nothing).
std::u32string numeric_reference(char32_t num) {
    if (num == 0x00) return U"\uFFFD";
    if (num == 0x0D) return U"\r";
    if (num >= 0x80 && num <= 0x9F) return std::u32string(1, kCp1252C1[num - 0x80]);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
    if (is_dropped_codepoint(num)) return U"";
    return std::u32string(1, num);
}

int hex_value(char32_t c) {
    if (c >= U'0' && c <= U'9') return static_cast<int>(c - U'0');
    if (c >= U'a' && c <= U'f') return static_cast<int>(c - U'a' + 10);
    if (c >= U'A' && c <= U'F') return static_cast<int>(c - U'A' + 10);
    return -1;
}

struct Replacement {
    std::u32string text;
    size_t consumed;  // characters after the '&'
};

// `#[0-9]+;?` or `#[xX][0-9a-fA-F]+;?` starting at s[0] == '#'.
std::optional<Replacement> match_numeric(std::u32string_view s) {
    bool hex = s.size() > 1 && (s[1] == U'x' || s[1] == U'X');
    size_t i = hex ? 2 : 1;
    int base = hex ? 16 : 10;
    size_t first_digit = i;
    char32_t num = 0;
    for (; i < s.size(); ++i) {
        int d = hex ? hex_value(s[i]) : (s[i] >= U'0' && s[i] <= U'9' ? static_cast<int>(s[i] - U'0') : -1);
        if (d < 0) break;
        num = num >= kBeyondUnicode ? kBeyondUnicode : num * base + static_cast<char32_t>(d);
    }
    if (i == first_digit) return std::nullopt;  // "&#" or "&#x" without digits stays as it is
    if (i < s.size() && s[i] == U';') ++i;
    return Replacement{numeric_reference(num), i};
}

const std::string_view* find_entity(std::u32string_view name) {
    std::string key;
    for (char32_t c : name) {
        if (c >= 0x80) return nullptr;  // every HTML5 name is ASCII
        key.push_back(static_cast<char>(c));
    }
    return find_html5_entity(key);
}

bool ends_entity_name(char32_t c) {
    return c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' || c == U'#' || c == U';';
}

// `[^\t\n\f <&#;]{1,32};?` and the HTML5 "longest legacy prefix" rule of _replace_charref.
std::optional<Replacement> match_named(std::u32string_view s) {
    size_t n = 0;
    while (n < s.size() && n < kMaxEntityNameLength && !ends_entity_name(s[n])) ++n;
    if (n == 0) return std::nullopt;
    size_t consumed = n < s.size() && s[n] == U';' ? n + 1 : n;
    std::u32string_view name = s.substr(0, consumed);
    if (const auto* value = find_entity(name)) return Replacement{utf8_to_u32(*value), consumed};
    for (size_t x = consumed - 1; x >= 2; --x) {  // as CPython: prefixes of at least two characters
        if (const auto* value = find_entity(name.substr(0, x)))
            return Replacement{utf8_to_u32(*value) + std::u32string(name.substr(x)), consumed};
    }
    std::u32string unchanged(1, U'&');  // no entity: the text stays as it is
    unchanged += name;
    return Replacement{std::move(unchanged), consumed};
}

}  // namespace

std::u32string html_unescape(std::u32string_view text) {
    std::u32string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] != U'&') {
            out.push_back(text[i++]);
            continue;
        }
        std::u32string_view rest = text.substr(i + 1);
        auto r = !rest.empty() && rest[0] == U'#' ? match_numeric(rest) : match_named(rest);
        if (!r) {
            out.push_back(U'&');
            ++i;
            continue;
        }
        out += r->text;
        i += 1 + r->consumed;
    }
    return out;
}

}  // namespace difu
