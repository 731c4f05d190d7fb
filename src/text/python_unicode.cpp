// text/python_unicode.cpp — the classes use ICU's character properties; the two whitespace sets are short fixed
// lists (they have not changed since Unicode 6.3), spelled out so they cannot drift with the ICU version.
#include "text/python_unicode.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstdint>

#include "core/error.h"

namespace difu {

bool is_regex_space(char32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    switch (c) {
        case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

bool is_python_space(char32_t c) {
    return is_regex_space(c) || (c >= 0x1C && c <= 0x1F);  // FS, GS, RS, US are bidi class B/S in Python
}

bool is_letter(char32_t c) {
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0;
}

bool is_number(char32_t c) {
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0;
}

bool is_python_word_char(char32_t c) {
    if (c == U'_' || is_letter(c)) return true;
    return u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

int decimal_digit_value(char32_t c) {
    if (c >= U'0' && c <= U'9') return static_cast<int>(c - U'0');
    if (u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_NUMERIC_TYPE) != U_NT_DECIMAL) return -1;
    return u_charDigitValue(static_cast<UChar32>(c));
}

std::u32string python_lower(std::u32string_view text) {
    if (text.size() > INT32_MAX / 2) throw Error::make("text of {} characters is too long to lowercase", text.size());
    auto u16 = icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                             static_cast<int32_t>(text.size()));
    u16.toLower(icu::Locale::getRoot());  // root: no Turkish/Lithuanian rules, like Python
    std::u32string out;
    out.reserve(static_cast<size_t>(u16.length()));
    for (int32_t i = 0; i < u16.length(); i = u16.moveIndex32(i, 1)) out.push_back(static_cast<char32_t>(u16.char32At(i)));
    return out;
}

std::u32string_view python_strip(std::u32string_view text) {
    size_t begin = 0, end = text.size();
    while (begin < end && is_python_space(text[begin])) ++begin;
    while (end > begin && is_python_space(text[end - 1])) --end;
    return text.substr(begin, end - begin);
}

}  // namespace difu
