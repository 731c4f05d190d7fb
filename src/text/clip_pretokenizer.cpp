// text/clip_pretokenizer.cpp — openai's regex, hand-written as a scanner over code points.
#include "text/clip_pretokenizer.h"

#include <array>

#include "text/html_unescape.h"
#include "text/python_unicode.h"

namespace difu {
namespace {

constexpr char32_t kLongS = 0x017F;                  // ſ: IGNORECASE makes it equal to 's'
constexpr char32_t kCombiningYpogegrammeni = 0x0345;  // IGNORECASE puts it in neither [\p{L}] nor its complement

// The literal alternatives, in the pattern's order (an alternation takes the first that matches, not the longest).
constexpr std::array<std::u32string_view, 9> kLiterals = {
    U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};

bool equal_ignoring_case(char32_t c, char32_t literal) {
    if (c == literal) return true;
    if (literal >= U'a' && literal <= U'z' && c == literal - U'a' + U'A') return true;
    return literal == U's' && c == kLongS;
}

size_t match_literal(std::u32string_view text, size_t at) {
    for (std::u32string_view lit : kLiterals) {
        if (text.size() - at < lit.size()) continue;
        size_t k = 0;
        while (k < lit.size() && equal_ignoring_case(text[at + k], lit[k])) ++k;
        if (k == lit.size()) return k;
    }
    return 0;
}

enum class CharClass { kSpace, kLetter, kNumber, kOther, kUnmatched };

CharClass classify(char32_t c) {
    if (is_regex_space(c)) return CharClass::kSpace;
    if (c == kCombiningYpogegrammeni) return CharClass::kUnmatched;
    if (is_letter(c)) return CharClass::kLetter;
    if (is_number(c)) return CharClass::kNumber;
    return CharClass::kOther;
}

// re.sub(r'\s+', ' ', text) with the `regex` module's \s.
std::u32string collapse_whitespace(std::u32string_view text) {
    std::u32string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (!is_regex_space(text[i])) {
            out.push_back(text[i++]);
            continue;
        }
        while (i < text.size() && is_regex_space(text[i])) ++i;
        out.push_back(U' ');
    }
    return out;
}

}  // namespace

std::u32string clip_clean_text(std::u32string_view text) {
    std::u32string unescaped = html_unescape(html_unescape(text));
    std::u32string collapsed = collapse_whitespace(python_strip(unescaped));
    return python_lower(python_strip(collapsed));
}

std::vector<std::u32string_view> clip_split_words(std::u32string_view text) {
    std::vector<std::u32string_view> words;
    size_t i = 0;
    while (i < text.size()) {
        if (size_t n = match_literal(text, i)) {
            words.push_back(text.substr(i, n));
            i += n;
            continue;
        }
        CharClass cls = classify(text[i]);
        if (cls == CharClass::kSpace || cls == CharClass::kUnmatched) {
            ++i;  // findall moves on one character when nothing matches here
            continue;
        }
        size_t end = i + 1;
        if (cls != CharClass::kNumber)  // [\p{N}] is a single character; the other two classes are runs
            while (end < text.size() && classify(text[end]) == cls) ++end;
        words.push_back(text.substr(i, end - i));
        i = end;
    }
    return words;
}

}  // namespace difu
