// pipeline/scheduled_conditioning.h — webui prompt editing and alternation ([from:to:when], [a|b]) as
// conditioning: each distinct prompt text of the schedule is encoded once, and the sampler's steps
// pick the entry in force (the first whose end step is >= the step), re-padding cond and uncond to
// the same token count whenever either changes.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pipeline/conditioning.h"
#include "text/prompt_schedule.h"

namespace difu {

class ScheduledConditioning {
public:
    using Encoder = std::function<Conditioning(const std::string& text)>;
    // `encode` is called once per distinct text.
    ScheduledConditioning(const std::string& prompt, int steps, const Encoder& encode);

    const Conditioning& at(int step) const;  // step counts from 0
    bool changes_at(int step) const;   // whether at(step) differs from at(step - 1)
    size_t distinct_texts() const { return encoded_.size(); }
    std::vector<int64_t> token_counts() const;  // of every distinct text's conditioning

private:
    std::vector<ScheduledPrompt> schedule_;
    std::map<std::string, Conditioning> encoded_;
};

}  // namespace difu
