// sampling/dpm_2_ancestral.cpp — k-diffusion sample_dpm_2_ancestral ("DPM2 a"): a DPM-Solver-2 step
// (midpoint in log sigma) down to sigma_down, then ancestral noise sigma_up (Euler when sigma_down is 0).
#include <cmath>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpm_2_ancestral(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        const AncestralStep s = ancestral_step(sigma, next, eta);
        Tensor d = to_d(x, sigma, denoised);
        if (s.down == 0) {
            x = axpby(1.0f, x, s.down - sigma, d);
        } else {
            // sigma_mid = exp(lerp(log sigma, log sigma_down, 1/2))
            const float mid = std::exp(std::log(sigma) + 0.5f * (std::log(s.down) - std::log(sigma)));
            Tensor x2 = axpby(1.0f, x, mid - sigma, d);
            Tensor d2 = to_d(x2, mid, a.model(x2, mid));
            x = axpby(1.0f, x, s.down - sigma, d2);
            x = axpby(1.0f, x, s.up, noise(x.shape(), sigma, next));
        }
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
