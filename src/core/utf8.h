// core/utf8.h — UTF-8 <-> code points (prompts, image text chunks), robust to hostile bytes.
// Prompts arrive as bytes; Python (which the reference tokenizers run in) only ever sees valid text, so an
// ill-formed sequence becomes one U+FFFD per maximal subpart, as Python's bytes.decode(errors="replace") and ICU do.
#pragma once
#include <string>
#include <string_view>

namespace difu {

inline constexpr char32_t kReplacementChar = 0xFFFD;

std::u32string utf8_to_u32(std::string_view bytes);
std::string u32_to_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t c);

}  // namespace difu
