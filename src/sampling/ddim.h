// sampling/ddim.h — the CompVis samplers over the model's integer timesteps (ldm/models/diffusion/
// ddim.py and plms.py), on the guided eps prediction.
//   DDIM (Song et al. 2021):  x0 = (x - sqrt(1 - a_t) e) / sqrt(a_t)
//                             x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s_t^2) e + s_t z,
//                             s_t = eta sqrt((1 - a_prev)/(1 - a_t) (1 - a_t/a_prev))
//   PLMS (Liu et al. 2022): the same update with e replaced by an Adams-Bashforth combination of
//                           the last eps values (a Heun-like double evaluation on the first step).
#pragma once
#include <vector>

#include "sampling/denoiser.h"
#include "sampling/schedule.h"

namespace difu {

struct DdimSchedule {
    std::vector<int> timesteps;                 // ascending: range(0, T, T / steps) + 1
    std::vector<float> alphas, alphas_prev, sigmas;  // per timestep index; alphas_prev[0] = alphas_cumprod[0]
};
// Throws for eta != 0 when `plms` (the original refuses it too).
DdimSchedule make_ddim_schedule(const DiscreteSchedule& s, int steps, float eta);

struct DdimResult {
    Tensor x;
    std::vector<Tensor> steps_x, steps_pred_x0;  // filled only when `record` is set (tests)
};

// Runs the first `t_start` timesteps in reverse (t_start = all for txt2img, t_enc for img2img).
DdimResult sample_ddim(const EpsModel& eps, const DdimSchedule& s, Tensor x, int t_start, const NoiseSampler& noise,
                       const StepCallback& callback, bool record = false);
DdimResult sample_plms(const EpsModel& eps, const DdimSchedule& s, Tensor x, int t_start, const StepCallback& callback,
                       bool record = false);

// img2img's start latent: sqrt(alphas[t_enc]) x0 + sqrt(1 - alphas[t_enc]) noise (DDIMSampler.stochastic_encode).
Tensor ddim_stochastic_encode(const DdimSchedule& s, const Tensor& x0, int t_enc, const Tensor& noise);

}  // namespace difu
