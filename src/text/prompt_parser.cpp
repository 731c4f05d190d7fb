// text/prompt_parser.cpp — webui's parse_prompt_attention: a scanner for its re_attention
//   \\\( | \\\) | \\\[ | \\] | \\\\ | \\ | \( | \[ | :\s*([+-]?[.\d]+)\s*\) | \) | ] | [^\\()\[\]:]+ | :
// (alternatives tried in that order, `re` module on str), then the same bracket stacks and multiply_range.
#include "text/prompt_parser.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "text/python_unicode.h"
#include "core/utf8.h"

namespace difu {
namespace {

constexpr std::u32string_view kBreak = U"BREAK";
constexpr double kBreakMarkerWeight = -1.0;

enum class TokenKind { kEscaped, kOpenRound, kOpenSquare, kWeightClose, kCloseRound, kCloseSquare, kText };

struct Token {
    TokenKind kind;
    std::u32string_view text;    // the whole match (re's m.group(0))
    std::u32string_view weight;  // m.group(1) of a kWeightClose
};

bool is_syntax_char(char32_t c) {
    return c == U'\\' || c == U'(' || c == U')' || c == U'[' || c == U']' || c == U':';
}

size_t skip_spaces(std::u32string_view s, size_t i) {
    while (i < s.size() && is_python_space(s[i])) ++i;
    return i;
}

// `:\s*([+-]?[.\d]+)\s*\)` at s[at] == ':'; no backtracking can help it, so one forward pass decides.
bool match_weight_close(std::u32string_view s, size_t at, Token& token) {
    size_t begin = skip_spaces(s, at + 1);
    size_t i = begin;
    if (i < s.size() && (s[i] == U'+' || s[i] == U'-')) ++i;
    size_t digits = i;
    while (i < s.size() && (s[i] == U'.' || decimal_digit_value(s[i]) >= 0)) ++i;
    if (i == digits) return false;
    size_t end = i;
    i = skip_spaces(s, i);
    if (i >= s.size() || s[i] != U')') return false;
    token = {TokenKind::kWeightClose, s.substr(at, i + 1 - at), s.substr(begin, end - begin)};
    return true;
}

Token next_token(std::u32string_view s, size_t at) {
    char32_t c = s[at];
    if (c == U'\\') {
        bool escapes = at + 1 < s.size() && (s[at + 1] == U'(' || s[at + 1] == U')' || s[at + 1] == U'[' ||
                                             s[at + 1] == U']' || s[at + 1] == U'\\');
        return {TokenKind::kEscaped, s.substr(at, escapes ? 2 : 1), {}};  // a lone '\' escapes nothing
    }
    if (c == U'(') return {TokenKind::kOpenRound, s.substr(at, 1), {}};
    if (c == U'[') return {TokenKind::kOpenSquare, s.substr(at, 1), {}};
    if (Token t; c == U':' && match_weight_close(s, at, t)) return t;
    if (c == U')') return {TokenKind::kCloseRound, s.substr(at, 1), {}};
    if (c == U']') return {TokenKind::kCloseSquare, s.substr(at, 1), {}};
    if (c == U':') return {TokenKind::kText, s.substr(at, 1), {}};
    size_t end = at;
    while (end < s.size() && !is_syntax_char(s[end])) ++end;
    return {TokenKind::kText, s.substr(at, end - at), {}};
}

// Python's float() of the `[+-]?[.\d]+` match: any Unicode decimal digits count, one '.' at most, and at
// least one digit; too large a number is inf (float() does not raise on overflow).
double parse_weight(std::u32string_view w) {
    bool negative = !w.empty() && w[0] == U'-';
    std::u32string_view body = !w.empty() && (w[0] == U'-' || w[0] == U'+') ? w.substr(1) : w;
    std::string ascii;
    int dots = 0;
    bool integer_part_nonzero = false;
    for (char32_t c : body) {
        if (c == U'.') {
            ++dots;
            ascii.push_back('.');
            continue;
        }
        int d = decimal_digit_value(c);
        if (dots == 0 && d > 0) integer_part_nonzero = true;
        ascii.push_back(static_cast<char>('0' + d));
    }
    if (dots > 1 || ascii.size() == static_cast<size_t>(dots))
        throw Error::make("prompt: '{}' is not a number (attention weight in '(text:weight)')", u32_to_utf8(w));
    double value = 0;
    auto [ptr, ec] = std::from_chars(ascii.data(), ascii.data() + ascii.size(), value);
    if (ec == std::errc::result_out_of_range)
        value = integer_part_nonzero ? std::numeric_limits<double>::infinity() : 0.0;
    else if (ec != std::errc() || ptr != ascii.data() + ascii.size())
        throw Error::make("prompt: cannot read the attention weight '{}'", u32_to_utf8(w));
    return negative ? -value : value;
}

struct Piece {
    std::u32string text;
    double weight;
};

bool breaks_word_at(std::u32string_view s, size_t i) {  // re's \b between s[i-1] and s[i]
    bool before = i > 0 && is_python_word_char(s[i - 1]);
    bool after = i < s.size() && is_python_word_char(s[i]);
    return before != after;
}

// re.split(r"\s*\bBREAK\b\s*", text) with a ["BREAK", -1] marker between the parts, appended to `res`.
void append_split_at_breaks(std::u32string_view text, std::vector<Piece>& res) {
    size_t part_begin = 0;
    for (size_t i = text.find(kBreak); i != std::u32string_view::npos; i = text.find(kBreak, i)) {
        size_t end = i + kBreak.size();
        if (!breaks_word_at(text, i) || !breaks_word_at(text, end)) {
            ++i;
            continue;
        }
        size_t begin = i;  // the leading \s* reaches back over spaces, but not into the previous match
        while (begin > part_begin && is_python_space(text[begin - 1])) --begin;
        res.push_back({std::u32string(text.substr(part_begin, begin - part_begin)), 1.0});
        res.push_back({std::u32string(kBreak), kBreakMarkerWeight});
        part_begin = i = skip_spaces(text, end);
    }
    res.push_back({std::u32string(text.substr(part_begin)), 1.0});
}

void multiply_range(std::vector<Piece>& res, size_t start, double multiplier) {
    for (size_t p = start; p < res.size(); ++p) res[p].weight *= multiplier;
}

size_t pop(std::vector<size_t>& stack) {
    size_t top = stack.back();
    stack.pop_back();
    return top;
}

std::vector<PromptSegment> merge_equal_weights(const std::vector<Piece>& res) {
    std::vector<PromptSegment> out;
    for (const Piece& p : res) {
        if (!out.empty() && out.back().weight == p.weight)  // NaN never merges, and -0.0 merges with 0.0
            out.back().text += u32_to_utf8(p.text);
        else
            out.push_back({u32_to_utf8(p.text), p.weight});
    }
    return out;
}

}  // namespace

std::vector<PromptSegment> parse_prompt_attention(std::string_view prompt) {
    if (prompt.size() > kMaxPromptBytes)
        throw Error::make("prompt: {} bytes is longer than the {} bytes difu accepts", prompt.size(), kMaxPromptBytes);
    std::u32string text = utf8_to_u32(prompt);
    std::vector<Piece> res;
    std::vector<size_t> round_brackets, square_brackets;  // where each open bracket's range starts in res

    for (size_t at = 0; at < text.size();) {
        Token t = next_token(text, at);
        at += t.text.size();
        if (t.kind == TokenKind::kEscaped)
            res.push_back({std::u32string(t.text.substr(1)), 1.0});
        else if (t.kind == TokenKind::kOpenRound)
            round_brackets.push_back(res.size());
        else if (t.kind == TokenKind::kOpenSquare)
            square_brackets.push_back(res.size());
        else if (t.kind == TokenKind::kWeightClose && !round_brackets.empty())
            multiply_range(res, pop(round_brackets), parse_weight(t.weight));
        else if (t.kind == TokenKind::kCloseRound && !round_brackets.empty())
            multiply_range(res, pop(round_brackets), kRoundBracketMultiplier);
        else if (t.kind == TokenKind::kCloseSquare && !square_brackets.empty())
            multiply_range(res, pop(square_brackets), kSquareBracketMultiplier);
        else
            append_split_at_breaks(t.text, res);  // text, ':' and closers without an open bracket
    }
    for (size_t pos : round_brackets) multiply_range(res, pos, kRoundBracketMultiplier);  // unclosed: to the end
    for (size_t pos : square_brackets) multiply_range(res, pos, kSquareBracketMultiplier);

    if (res.empty()) res.push_back({U"", 1.0});
    return merge_equal_weights(res);
}

}  // namespace difu
