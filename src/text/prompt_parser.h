// text/prompt_parser.h — AUTOMATIC1111 webui's attention syntax (modules/prompt_parser.py, parse_prompt_attention):
//   (text) x1.1   ((text)) x1.21   (text:1.3) x1.3   [text] /1.1   \( \) \[ \] \\ literal   BREAK: new chunk
// Nested brackets multiply; a bracket left open multiplies everything to the end of the prompt; a stray ')' or
// ']' is plain text; adjacent pieces of equal weight are merged. Prompt editing ([a:b:0.5], [a|b]) and AND are
// separate webui passes and not handled here.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace difu {

inline constexpr double kRoundBracketMultiplier = 1.1;         // (text)
inline constexpr double kSquareBracketMultiplier = 1.0 / 1.1;  // [text]
// Closing a bracket multiplies every piece after its opening, so the parser is quadratic in the number of
// brackets (as webui's); this bounds the work for hostile input. Far beyond any useful prompt (~15k tokens).
inline constexpr size_t kMaxPromptBytes = size_t{64} << 10;

struct PromptSegment {
    std::string text;  // UTF-8
    double weight;     // Python float; webui's "BREAK" marker is the pair ("BREAK", -1)

    bool is_break() const { return text == "BREAK" && weight == -1.0; }  // as sd_hijack_clip tests it
    bool operator==(const PromptSegment&) const = default;
};

// parse_prompt_attention(text) -> [[text, weight], ...]; never empty ("" gives [["", 1.0]]).
// Ill-formed UTF-8 reads as U+FFFD. Throws difu::Error for a prompt over kMaxPromptBytes and for a weight that
// Python's float() rejects, e.g. "(a:1.2.3)" or "(a:.)" (webui fails the generation with a ValueError there).
std::vector<PromptSegment> parse_prompt_attention(std::string_view prompt);

}  // namespace difu
