// text/python_unicode.h — Unicode character classes and case mapping as the Python reference code sees them.
// The tokenizers difu reproduces are Python: openai's CLIP tokenizer (the `regex` module) and webui's prompt parser
// (the `re` module). Both define \s, \w, \d and \p{..} slightly differently; each function here names whose.
#pragma once
#include <string>
#include <string_view>

namespace difu {

// str.isspace(), which is also `re`'s \s on str: Unicode White_Space plus the separators U+001C..U+001F.
bool is_python_space(char32_t c);
// The `regex` module's \s: Unicode White_Space (no U+001C..U+001F).
bool is_regex_space(char32_t c);
// \p{L}: general category Lu, Ll, Lt, Lm or Lo (also str.isalpha()).
bool is_letter(char32_t c);
// \p{N}: general category Nd, Nl or No.
bool is_number(char32_t c);
// `re`'s \w on str: str.isalnum() (a letter, or any Numeric_Type) or '_'.
bool is_python_word_char(char32_t c);
// `re`'s \d on str is Numeric_Type=Decimal; returns its digit value, or -1 for anything else.
int decimal_digit_value(char32_t c);

// str.lower(): full Unicode lowercase mapping (SpecialCasing, Final_Sigma), independent of any locale.
std::u32string python_lower(std::u32string_view text);
// str.strip() with no argument: removes is_python_space characters at both ends.
std::u32string_view python_strip(std::u32string_view text);

}  // namespace difu
