// text/prompt_schedule.cpp — webui's get_learned_conditioning_prompt_schedules without lark.
// webui parses the prompt with this Earley grammar (modules/prompt_parser.py):
//   start:      (prompt | /[][():]/+)*          stray brackets and ':' are text, but only at the top level
//   prompt:     (emphasized | scheduled | alternate | plain | WHITESPACE)*
//   emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
//   scheduled:  "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
//   alternate:  "[" prompt ("|" [prompt])+ "]"
//   plain:      /([^\\\[\]():|]|\\.)+/          an escape takes any next character but '\n'
// Inside a bracket nothing may be stray, so a bracket's extent is fixed by bracket matching and whether it
// forms a group is decided by the separators at its own level. One left-to-right pass with a stack of open
// brackets finds every group: a closing bracket either closes a valid group, or shows that every bracket
// still open is stray text (none of them can hold it). No recursion, whatever the nesting.
//
// Where a valid group at the top level could also be read as stray characters ("[a:b:2](" or "x[a:2]]"), lark
// picks one of the two by the order of Python's string hashes, which PYTHONHASHSEED randomises per process:
// webui answers either way from run to run. difu always reads the group, the reading webui has for every
// prompt it reads only one way.
#include "text/prompt_schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "text/prompt_parser.h"
#include "text/python_unicode.h"
#include "core/utf8.h"

namespace difu {
namespace {

struct Span {
    size_t begin = 0, end = 0;  // byte offsets into the prompt; empty for a missing "from"
};

// An editing group [from:to:when] or an alternation [a|b|c]; (emphasis) and [weakening] are plain text here.
struct EditGroup {
    size_t begin = 0, end = 0;  // from '[' to one past ']'
    std::vector<Span> options;  // alternation: one span per option (at least two)
    Span from, to;              // editing
    std::string_view when_token;  // editing: its NUMBER, read only once the whole prompt has parsed
    int when = 0;               // editing: the last step of `from`; 0 when `to` holds from step 1 on

    bool is_alternation() const { return !options.empty(); }
};

struct OpenBracket {
    char opener;                         // '[' or '('
    size_t pos;
    std::vector<size_t> colons, pipes;   // separators at this bracket's own level
    int nesting = 0;                     // deepest chain of edit groups inside it so far
};

// webui's step arithmetic (collect_steps): where `when` counts from, and the steps the schedule spans.
struct StepRule {
    int steps;               // hires_steps in hires mode, base_steps otherwise
    int int_offset = 0;      // base_steps in hires mode: "12" is step 2 of a 10 + hires pass
    double flt_offset = 0;   // 1.0 in hires mode: "1.5" is halfway through the hires pass
    bool old_scheduling = false;
};

size_t utf8_length(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

// Skips `re`'s \s on str (the grammar's WHITESPACE); ill-formed UTF-8 is U+FFFD to Python, not a space.
size_t skip_python_spaces(std::string_view s, size_t i) {
    constexpr size_t kMaxUtf8Bytes = 4;
    while (i < s.size()) {
        std::u32string first = utf8_to_u32(s.substr(i, kMaxUtf8Bytes));
        if (first[0] == kReplacementChar || !is_python_space(first[0])) break;
        i += utf8_length(first[0]);
    }
    return i;
}

size_t skip_digits(std::string_view s, size_t i) {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i;
}

// lark's common.SIGNED_NUMBER at `i`, as its regex matches: [+-]? (\d+ (\.\d*)? | \.\d+) ([eE][+-]?\d+)?
// Returns the end of the match, or `i` when there is none.
size_t match_signed_number(std::string_view s, size_t i) {
    size_t p = i < s.size() && (s[i] == '+' || s[i] == '-') ? i + 1 : i;
    size_t int_end = skip_digits(s, p);
    size_t end = int_end;
    if (int_end < s.size() && s[int_end] == '.') {
        size_t frac_end = skip_digits(s, int_end + 1);
        if (int_end == p && frac_end == int_end + 1) return i;  // "." alone
        end = frac_end;
    } else if (int_end == p) {
        return i;
    }
    if (end < s.size() && (s[end] == 'e' || s[end] == 'E')) {
        size_t e = end + 1 < s.size() && (s[end + 1] == '+' || s[end + 1] == '-') ? end + 2 : end + 1;
        size_t exp_end = skip_digits(s, e);
        if (exp_end > e) end = exp_end;  // "1e" is the number 1 followed by "e"
    }
    return end;
}

// The NUMBER token of a scheduled group's last segment, "[WHITESPACE] NUMBER [WHITESPACE]", if it is one.
std::optional<std::string_view> number_token(std::string_view segment) {
    size_t begin = skip_python_spaces(segment, 0);
    size_t end = match_signed_number(segment, begin);
    if (end == begin || skip_python_spaces(segment, end) != segment.size()) return std::nullopt;
    return segment.substr(begin, end - begin);
}

// from_chars leaves the value unset when it is out of range, where Python's float() gives ±inf for a huge
// magnitude and 0.0 for a tiny one; the decimal exponent of the first nonzero digit tells which.
double out_of_range_float(std::string_view token) {
    constexpr long long kExponentCap = 1'000'000;  // far past double's range either way
    size_t e = token.find_first_of("eE");
    long long exponent = 0;
    if (e != std::string_view::npos) {
        size_t i = e + 1;  // the token has digits after its sign
        bool negative = token[i] == '-';
        if (token[i] == '+' || token[i] == '-') ++i;
        for (; i < token.size(); ++i) exponent = std::min(exponent * 10 + (token[i] - '0'), kExponentCap);
        if (negative) exponent = -exponent;
    }
    std::string_view mantissa = token.substr(0, e);
    size_t dot = std::min(mantissa.find('.'), mantissa.size());
    size_t first = mantissa.find_first_of("123456789");
    if (first == std::string_view::npos) return 0.0;
    long long lead = first < dot ? static_cast<long long>(dot - first) - 1 : -static_cast<long long>(first - dot);
    if (lead + exponent <= 0) return 0.0;
    return token[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

// Python's float() of a SIGNED_NUMBER token: the correctly rounded double, as from_chars gives it.
double python_float(std::string_view token) {
    std::string_view digits = token[0] == '+' ? token.substr(1) : token;  // from_chars takes no '+'
    double value = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc::result_out_of_range) return out_of_range_float(token);
    DIFU_CHECK(ec == std::errc() && ptr == digits.data() + digits.size(), "number token '{}'", token);
    return value;
}

// collect_steps' scheduled(): the step `when` names, min(steps, int(v)); 0 stands for every v < 1.
int when_step(std::string_view token, const StepRule& rule) {
    double v = python_float(token);
    if (rule.old_scheduling)
        v = v < 1 ? v * rule.steps : v;
    else if (token.find('.') != std::string_view::npos)
        v = (v - rule.flt_offset) * rule.steps;  // a fraction of the steps, whatever its size: "1.5" too
    else
        v = v - rule.int_offset;
    if (!std::isfinite(v))
        throw Error::make("prompt editing step '{}' is out of range (webui fails here with OverflowError)", token);
    double step = std::trunc(v);  // Python's int()
    if (step >= rule.steps) return rule.steps;
    return step < 1 ? 0 : static_cast<int>(step);
}

// The one pass over the prompt. parse() gives the edit groups sorted by position, or nothing when webui's
// grammar rejects the prompt (lark raises, and webui keeps the prompt whole).
class GroupFinder {
public:
    explicit GroupFinder(std::string_view text) : text_(text) {}

    int max_nesting() const { return max_nesting_; }  // the deepest chain of edit groups found

    std::optional<std::vector<EditGroup>> parse() {
        for (size_t i = 0; i < text_.size(); ++i) {
            if (!scan(i)) return std::nullopt;
        }
        if (!abandon_open_brackets()) return std::nullopt;  // never closed: stray text
        std::sort(groups_.begin(), groups_.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
        return std::move(groups_);
    }

private:
    // Handles text_[i]; may step over an escaped character. False: the grammar rejects the prompt.
    bool scan(size_t& i) {
        switch (text_[i]) {
        case '\\':
            // plain's \\. needs a character after the backslash, and '.' does not match '\n'.
            if (i + 1 == text_.size() || text_[i + 1] == '\n') return false;
            ++i;
            return true;
        case '[':
        case '(':
            open_.push_back({text_[i], i, {}, {}, 0});
            return true;
        case ':':
            if (!open_.empty()) open_.back().colons.push_back(i);
            return true;  // at the top level, start's /[][():]/ takes it
        case '|':
            if (open_.empty()) return false;  // '|' is stray nowhere
            open_.back().pipes.push_back(i);
            return true;
        case ']':
        case ')':
            return close(i);
        default:
            return true;
        }
    }

    bool close(size_t pos) {
        if (open_.empty()) return true;  // a stray closer is text
        OpenBracket& top = open_.back();
        if ((top.opener == '[') != (text_[pos] == ']')) return abandon_open_brackets();
        int nesting = top.nesting;
        if (top.opener == '(' || (top.colons.empty() && top.pipes.empty())) {
            if (!top.pipes.empty() || top.colons.size() > 1) return abandon_open_brackets();
            // (a), (a:b), [a]: plain text to the schedule, only the edit groups inside matter
        } else if (auto group = edit_group(top, pos)) {
            nesting += 1;
            max_nesting_ = std::max(max_nesting_, nesting);
            groups_.push_back(std::move(*group));
        } else {
            return abandon_open_brackets();
        }
        open_.pop_back();
        if (!open_.empty()) open_.back().nesting = std::max(open_.back().nesting, nesting);
        return true;
    }

    // The '[' ... ']' at `close` as an alternation or a scheduled group, if its separators make one.
    std::optional<EditGroup> edit_group(const OpenBracket& b, size_t close) const {
        EditGroup g;
        g.begin = b.pos;
        g.end = close + 1;
        if (b.colons.empty()) {  // [a|b|...]: pipes only
            size_t start = b.pos + 1;
            for (size_t pipe : b.pipes) {
                g.options.push_back({start, pipe});
                start = pipe + 1;
            }
            g.options.push_back({start, close});
            return g;
        }
        if (!b.pipes.empty() || b.colons.size() > 2) return std::nullopt;
        size_t last_colon = b.colons.back();
        auto token = number_token(text_.substr(last_colon + 1, close - last_colon - 1));
        if (!token) return std::nullopt;
        if (b.colons.size() == 2) {
            g.from = {b.pos + 1, b.colons[0]};
            g.to = {b.colons[0] + 1, last_colon};
        } else {
            g.to = {b.pos + 1, last_colon};
        }
        g.when_token = *token;
        return g;
    }

    // Every bracket still open is stray text (start's /[][():]/); a '|' at their level then is stray too.
    bool abandon_open_brackets() {
        bool has_pipe = std::any_of(open_.begin(), open_.end(), [](const auto& b) { return !b.pipes.empty(); });
        open_.clear();
        return !has_pipe;
    }

    std::string_view text_;
    std::vector<OpenBracket> open_;
    std::vector<EditGroup> groups_;
    int max_nesting_ = 0;
};

// at_step(): the prompt with each edit group replaced by the option in force at `step`.
class StepRenderer {
public:
    StepRenderer(std::string_view text, const std::vector<EditGroup>& groups) : text_(text), groups_(groups) {}

    std::string at_step(int step) const {
        std::string out;
        render({0, text_.size()}, step, out);
        return out;
    }

private:
    // Recursion depth is the nesting of edit groups, at most kMaxScheduleNesting.
    void render(Span span, int step, std::string& out) const {
        size_t i = span.begin;
        auto g = first_group_from(groups_.begin(), i);
        while (g != groups_.end() && g->begin < span.end) {
            out.append(text_.substr(i, g->begin - i));
            render(option_at(*g, step), step, out);
            i = g->end;
            g = first_group_from(g + 1, i);  // skips the groups nested in *g
        }
        out.append(text_.substr(i, span.end - i));
    }

    std::vector<EditGroup>::const_iterator first_group_from(std::vector<EditGroup>::const_iterator from,
                                                           size_t pos) const {
        return std::lower_bound(from, groups_.end(), pos, [](const EditGroup& g, size_t p) { return g.begin < p; });
    }

    // AtStep: alternate yields args[(step - 1) % len(args)]; scheduled yields `before or ()` while step <= when.
    static Span option_at(const EditGroup& g, int step) {
        if (g.is_alternation()) return g.options[static_cast<size_t>(step - 1) % g.options.size()];
        return step <= g.when ? g.from : g.to;
    }

    std::string_view text_;
    const std::vector<EditGroup>& groups_;
};

// collect_steps(): the last step, every `when` that is a step, and every step when anything alternates.
std::vector<int> step_boundaries(const std::vector<EditGroup>& groups, int steps) {
    std::vector<int> ends{steps};
    for (const auto& g : groups) {
        if (g.is_alternation()) {
            ends.resize(steps);
            for (int s = 1; s <= steps; ++s) ends[s - 1] = s;
            return ends;
        }
        if (g.when >= 1) ends.push_back(g.when);
    }
    std::sort(ends.begin(), ends.end());
    ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
    return ends;
}

void check_steps(const char* what, int steps) {
    if (steps < 1 || steps > kMaxScheduleSteps)
        throw Error::make("prompt schedule: {} must be between 1 and {}, got {}", what, kMaxScheduleSteps, steps);
}

StepRule step_rule(const ScheduleSteps& s) {
    check_steps("steps", s.base_steps);
    if (s.hires_steps) check_steps("hires steps", *s.hires_steps);
    if (!s.hires_steps || s.use_old_scheduling) return {s.base_steps, 0, 0.0, s.use_old_scheduling};
    return {*s.hires_steps, s.base_steps, 1.0, false};
}

}  // namespace

std::vector<ScheduledPrompt> prompt_schedule(std::string_view prompt, int steps) {
    return prompt_schedule(prompt, ScheduleSteps{steps, std::nullopt, false});
}

std::vector<ScheduledPrompt> prompt_schedule(std::string_view prompt, const ScheduleSteps& steps) {
    StepRule rule = step_rule(steps);
    if (prompt.size() > kMaxPromptBytes)
        throw Error::make("prompt: {} bytes is longer than the {} bytes difu accepts", prompt.size(), kMaxPromptBytes);
    GroupFinder finder(prompt);
    auto groups = finder.parse();
    if (!groups) return {{rule.steps, std::string(prompt)}};
    // Both checks come after the parse, as webui's collect_steps runs on the parsed tree: a prompt the grammar
    // rejects is kept whole however deep it nests, and never reaches float("1e400").
    if (finder.max_nesting() > kMaxScheduleNesting)
        throw Error::make("prompt editing is nested {} levels deep; difu accepts {}", finder.max_nesting(),
                          kMaxScheduleNesting);
    for (auto& g : *groups) {
        if (!g.is_alternation()) g.when = when_step(g.when_token, rule);
    }

    StepRenderer renderer(prompt, *groups);
    std::vector<ScheduledPrompt> schedule;
    size_t total_bytes = 0;
    for (int end : step_boundaries(*groups, rule.steps)) {
        schedule.push_back({end, renderer.at_step(end)});
        total_bytes += schedule.back().text.size();
        if (total_bytes > kMaxScheduleTextBytes)
            throw Error::make("prompt schedule: over {} bytes of text for {} steps", kMaxScheduleTextBytes, rule.steps);
    }
    return schedule;
}

std::string prompt_at_step(const std::vector<ScheduledPrompt>& schedule, int step) {
    if (schedule.empty()) throw Error::make("prompt_at_step: empty prompt schedule");
    for (const auto& entry : schedule) {
        if (step <= entry.end_step) return entry.text;
    }
    return schedule.front().text;  // reconstruct_cond_batch's target_index stays 0
}

}  // namespace difu
