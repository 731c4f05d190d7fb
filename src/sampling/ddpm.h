// sampling/ddpm.h — the original DDPM ancestral sampler (Ho et al. 2020, Algorithm 2) over the
// model's timesteps or an evenly spaced subset t_0 < ... < t_{n-1} (respaced as in Nichol & Dhariwal
// 2021: abar over the subset, beta_i = 1 - abar_i / abar_{i-1}):
//   x_{i-1} = (x_i - beta_i / sqrt(1 - abar_i) eps(x_i, t_i)) / sqrt(1 - beta_i) + sigma_i z,
//   sigma_i^2 = beta~_i = (1 - abar_{i-1}) / (1 - abar_i) beta_i   (no noise on the last step)
#pragma once
#include <vector>

#include "sampling/denoiser.h"
#include "sampling/schedule.h"

namespace difu {

// The subset: round(linspace(0, T - 1, steps)), ascending.
std::vector<int> ddpm_timesteps(const DiscreteSchedule& s, int steps);
Tensor sample_ddpm(const EpsModel& eps, const DiscreteSchedule& s, int steps, Tensor x, const NoiseSampler& noise,
                   const StepCallback& callback);

}  // namespace difu
