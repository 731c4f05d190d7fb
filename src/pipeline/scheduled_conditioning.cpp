#include "pipeline/scheduled_conditioning.h"

namespace difu {

ScheduledConditioning::ScheduledConditioning(const std::string& prompt, int steps, const Encoder& encode)
    : schedule_(prompt_schedule(prompt, steps)) {
    for (const auto& entry : schedule_)
        if (!encoded_.count(entry.text)) encoded_.emplace(entry.text, encode(entry.text));
}

const Conditioning& ScheduledConditioning::at(int step) const {
    // webui's reconstruct_cond_batch: the first entry whose end_at_step is >= the current step.
    for (const auto& entry : schedule_)
        if (step <= entry.end_step) return encoded_.at(entry.text);
    return encoded_.at(schedule_.back().text);
}

bool ScheduledConditioning::changes_at(int step) const { return step > 0 && &at(step) != &at(step - 1); }

std::vector<int64_t> ScheduledConditioning::token_counts() const {
    std::vector<int64_t> counts;
    for (const auto& [text, c] : encoded_) counts.push_back(c.context.dim(1));
    return counts;
}

}  // namespace difu
