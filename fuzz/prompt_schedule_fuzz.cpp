// fuzz/prompt_schedule_fuzz.cpp — hostile prompts through webui's prompt editing ([a:b:when], [a|b]).
// A difu::Error (an over-long prompt, nesting past kMaxScheduleNesting, a step that overflows) is a correct
// answer; anything else escaping, a crash or a sanitizer report is a bug. The invariants checked are the ones
// webui's schedule always has.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/prompt_schedule.h"

namespace {

constexpr int kFuzzSteps = 20;  // a typical sampler run; alternation makes all 20 steps boundaries

void check_schedule(const std::vector<difu::ScheduledPrompt>& schedule) {
    if (schedule.empty() || schedule.back().end_step != kFuzzSteps) __builtin_trap();
    for (size_t i = 1; i < schedule.size(); ++i) {
        if (schedule[i].end_step <= schedule[i - 1].end_step) __builtin_trap();  // strictly increasing
    }
    if (schedule.front().end_step < 1) __builtin_trap();
    for (int step = 1; step <= kFuzzSteps; ++step) (void)difu::prompt_at_step(schedule, step);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view prompt(reinterpret_cast<const char*>(data), size);
    try {
        check_schedule(difu::prompt_schedule(prompt, kFuzzSteps));
    } catch (const difu::Error&) {
    }
    return 0;
}
