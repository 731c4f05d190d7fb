// sampling/uni_pc.h — UniPC (Zhao et al. 2023, https://arxiv.org/abs/2302.04867) as webui runs it
// (modules/models/diffusion/uni_pc, sd_samplers_timesteps_impl.unipc): the multistep predictor-corrector
// on the data prediction x0 = (x - sigma_t eps) / alpha_t over the VP schedule of the model's
// alphas_cumprod, continuous time t in [1/N, 1]:
//   log alpha_t  piecewise linear in t through (i/N, log sqrt(alphas_cumprod[i - 1])), i = 1..N
//   sigma_t = sqrt(1 - alpha_t^2),  lambda_t = log alpha_t - log sigma_t,  the UNet at (t - 1/N) 1000
//   time_uniform steps: linspace(t_T, 1/N, steps + 1)
// Each step predicts x_t from the last `order` x0 values (B(h) = h for bh1, e^h - 1 for bh2), then
// corrects it with the model's x0 at the predicted point, which is also the next step's history (so a
// step costs one model call); the last step is not corrected.
#pragma once
#include <optional>
#include <vector>

#include "sampling/denoiser.h"

namespace difu {

enum class UniPcVariant { Bh1, Bh2 };

struct UniPcOptions {  // webui's defaults (uni_pc_variant, uni_pc_order, uni_pc_lower_order_final)
    UniPcVariant variant = UniPcVariant::Bh1;
    int order = 3;                  // lowered to the step count when there are fewer steps
    bool lower_order_final = true;  // the last steps use order min(order, steps left + 1)
};

// `eps(x, t_input)` the guided noise prediction at the model's (fractional) timestep; `t_start` the
// continuous start time (img2img), 1 for txt2img.
Tensor sample_unipc(const EpsModel& eps, const std::vector<float>& alphas_cumprod, int steps, Tensor x, double t_start,
                    const UniPcOptions& options, const StepCallback& callback);

// The VP schedule's log alpha_t at continuous time t (exposed for tests).
double unipc_log_alpha(const std::vector<float>& alphas_cumprod, double t);

}  // namespace difu
