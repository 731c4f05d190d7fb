// sampling/dpmpp_2s_ancestral.cpp — k-diffusion sample_dpmpp_2s_ancestral ("DPM++ 2S a"): a
// single-step second-order DPM-Solver++ step (midpoint r = 1/2 in t = -log sigma) down to sigma_down,
// then ancestral noise sigma_up (Euler when sigma_down is 0).
#include <cmath>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpmpp_2s_ancestral(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        const AncestralStep s = ancestral_step(sigma, next, eta);
        if (s.down == 0) {
            x = axpby(1.0f, x, s.down - sigma, to_d(x, sigma, denoised));
        } else {
            const float t = -std::log(sigma), t_next = -std::log(s.down), h = t_next - t, r = 0.5f;
            const float t_mid = t + r * h;
            Tensor x2 = axpby(std::exp(-t_mid) / std::exp(-t), x, -std::expm1(-h * r), denoised);
            Tensor denoised2 = a.model(x2, std::exp(-t_mid));
            x = axpby(std::exp(-t_next) / std::exp(-t), x, -std::expm1(-h), denoised2);
        }
        if (next > 0) x = axpby(1.0f, x, s.up, noise(x.shape(), sigma, next));
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
