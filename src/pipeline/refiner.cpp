#include "pipeline/refiner.h"

#include <utility>

namespace difu {

double completed_ratio(const DiscreteSchedule& schedule, int t) {
    const int T = schedule.timesteps();
    return static_cast<double>(T - 1 - t) / T;
}

ModelSwitch::ModelSwitch(const DiscreteSchedule& schedule, float switch_at, std::function<void()> activate_second)
    : schedule_(schedule), switch_at_(switch_at), activate_second_(std::move(activate_second)) {}

void ModelSwitch::before_call_at_t(int t) {
    if (switched_ || completed_ratio(schedule_, t) < switch_at_) return;
    activate_second_();
    switched_ = true;
}

void ModelSwitch::before_call_at_sigma(float sigma) { before_call_at_t(schedule_.nearest_timestep(sigma)); }

Denoiser ModelSwitch::denoiser(std::function<Denoiser()> active) {
    return [this, active = std::move(active)](const Tensor& x, float sigma) {
        before_call_at_sigma(sigma);
        return active()(x, sigma);
    };
}

EpsModel ModelSwitch::eps_model(std::function<EpsModel()> active) {
    return [this, active = std::move(active)](const Tensor& x, float t) {
        before_call_at_t(static_cast<int>(t));  // UniPC's fractional timesteps: the step they fall in
        return active()(x, t);
    };
}

}  // namespace difu
