// pipeline/refiner.h — webui's refiner (modules/sd_samplers_common.apply_refiner, its default "switch by
// sigma"): a second model takes over the same sampler run, keeping the sampler's state (x, its history,
// the ancestral noise stream), once the run is `switch_at` of the way through. A model call at noise
// level sigma has completed (T - 1 - t) / T of the schedule, t the timestep whose sigma is nearest
// (the CompVis samplers pass t itself); the refiner answers the first call whose ratio reaches
// switch_at and every later one.
#pragma once
#include <functional>

#include "sampling/denoiser.h"
#include "sampling/schedule.h"

namespace difu {

inline constexpr float kDefaultRefinerSwitch = 0.8f;  // webui's "Switch at" default

// The fraction of the schedule a model call at timestep t has completed: (T - 1 - t) / T.
double completed_ratio(const DiscreteSchedule& schedule, int t);

// Routes the sampler's model calls to the active model and switches once, when due.
class ModelSwitch {
public:
    // `activate_second` prepares the refiner (builds it, encodes the prompts) and is called once, at the
    // switch; `switch_at` > 1 never switches.
    ModelSwitch(const DiscreteSchedule& schedule, float switch_at, std::function<void()> activate_second);

    // Whether the switch happened (so far).
    bool switched() const { return switched_; }
    // Switches when a call at this sigma / timestep is due to go to the second model.
    void before_call_at_sigma(float sigma);
    void before_call_at_t(int t);

    // A denoiser / eps model that switches before the call, then asks `active()` for the model to call.
    Denoiser denoiser(std::function<Denoiser()> active);
    EpsModel eps_model(std::function<EpsModel()> active);

private:
    const DiscreteSchedule& schedule_;
    float switch_at_;
    std::function<void()> activate_second_;
    bool switched_ = false;
};

}  // namespace difu
