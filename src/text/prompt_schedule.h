// text/prompt_schedule.h — AUTOMATIC1111 webui's prompt editing (modules/prompt_parser.py,
// get_learned_conditioning_prompt_schedules): which prompt text is in force at each sampling step.
//   [from:to:when]  "from" up to step `when`, then "to"      [to:when]  nothing, then "to"
//   [from::when]    "from", then nothing                     [a|b|c]    a, b, c, a, ... one per step
// `when` is a step number ("3", "1e1") or, with a dot (".5", "1.0"), a fraction of the steps. Editing and
// alternation nest. Everything else, (emphasis:1.2) and [weakening] included, passes through as written,
// escapes too ("\[" stays "\[" for the attention parser). A prompt that webui's grammar rejects (a '|' outside
// [a|b], a lone trailing '\') is kept whole: [[steps, prompt]]. Where webui reads a prompt two ways from run to
// run ("[a:b:2](": lark's choice follows PYTHONHASHSEED), difu reads every valid group as a group.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace difu {

// Editing nested deeper than this throws (webui itself dies of RecursionError a few hundred levels down).
// Only [from:to:when] and [a|b] count: (emphasis) and [weakening] nest without limit, as plain text.
inline constexpr int kMaxScheduleNesting = 100;
// Far above any sampler's step count; bounds the size of the schedule (alternation: one entry per step).
inline constexpr int kMaxScheduleSteps = 10000;
// The schedule holds up to one copy of the prompt per step; this bounds its memory for hostile input.
inline constexpr size_t kMaxScheduleTextBytes = size_t{64} << 20;

// One entry of webui's [[end_at_step, text], ...]: `text` is used for steps up to and including end_step.
struct ScheduledPrompt {
    int end_step;
    std::string text;

    bool operator==(const ScheduledPrompt&) const = default;
};

// webui's (base_steps, hires_steps, use_old_scheduling). With hires_steps, the schedule covers the hires pass:
// an integer `when` counts from the start of the first pass (base_steps + k), a fraction spans both (1.5 is
// halfway through the hires pass). use_old_scheduling: any `when` < 1 is a fraction, hires_steps is ignored.
struct ScheduleSteps {
    int base_steps;
    std::optional<int> hires_steps;
    bool use_old_scheduling = false;
};

// get_learned_conditioning_prompt_schedules([prompt], steps)[0]: entries in increasing end_step, the last one
// ending at `steps`. Consecutive entries may hold the same text (webui does not merge them).
// Throws difu::Error for steps outside [1, kMaxScheduleSteps], a prompt over kMaxPromptBytes (text/prompt_parser.h),
// editing nested deeper than kMaxScheduleNesting, a schedule over kMaxScheduleTextBytes, and a `when` that
// overflows to infinity ("[a:1e400]": webui fails the generation with OverflowError there).
std::vector<ScheduledPrompt> prompt_schedule(std::string_view prompt, int steps);
std::vector<ScheduledPrompt> prompt_schedule(std::string_view prompt, const ScheduleSteps& steps);

// The text in force at `step` (1-based): the first entry whose end_step >= step, as webui's
// reconstruct_cond_batch picks it — which falls back to the first entry for a step past the end.
// Throws difu::Error for an empty schedule (prompt_schedule never returns one).
std::string prompt_at_step(const std::vector<ScheduledPrompt>& schedule, int step);

}  // namespace difu
