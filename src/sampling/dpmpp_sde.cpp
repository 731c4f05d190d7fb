// sampling/dpmpp_sde.cpp — k-diffusion sample_dpmpp_sde ("DPM++ SDE"): a stochastic single-step
// DPM-Solver++ of order 2 in t = -log sigma with an intermediate point s = t + r h (r = 1/2):
//   step 1: ancestral split of sigma(t) -> sigma(s);  x2 = (sigma(s_)/sigma(t)) x - expm1(t - s_) D + su z1
//   step 2: ancestral split of sigma(t) -> sigma(t_next);  D' = (1 - 1/2r) D + (1/2r) D(x2, sigma(s))
//           x = (sigma(t_next_)/sigma(t)) x - expm1(t - t_next_) D' + su z2
// (s_, t_next_ the times of the sigma_down values); an Euler step to sigma 0 at the end. The noise z
// comes from the Brownian tree over the run's sigmas, so a step's two draws are one path's increments.
#include <cmath>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpmpp_sde(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta) {
    constexpr float r = 0.5f, fac = 1.0f / (2.0f * r);
    auto sigma_fn = [](float t) { return std::exp(-t); };
    auto t_fn = [](float sigma) { return -std::log(sigma); };
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        if (next == 0) {
            x = axpby(1.0f, x, next - sigma, to_d(x, sigma, denoised));
        } else {
            const float t = t_fn(sigma), t_next = t_fn(next), h = t_next - t, s = t + h * r;
            const AncestralStep s1 = ancestral_step(sigma_fn(t), sigma_fn(s), eta);
            const float s_ = t_fn(s1.down);
            Tensor x2 = axpby(sigma_fn(s_) / sigma_fn(t), x, -std::expm1(t - s_), denoised);
            x2 = axpby(1.0f, x2, s1.up, noise(x.shape(), sigma_fn(t), sigma_fn(s)));
            Tensor denoised2 = a.model(x2, sigma_fn(s));
            const AncestralStep s2 = ancestral_step(sigma_fn(t), sigma_fn(t_next), eta);
            const float t_next_ = t_fn(s2.down);
            Tensor denoised_d = axpby(1.0f - fac, denoised, fac, denoised2);
            x = axpby(sigma_fn(t_next_) / sigma_fn(t), x, -std::expm1(t - t_next_), denoised_d);
            x = axpby(1.0f, x, s2.up, noise(x.shape(), sigma_fn(t), sigma_fn(t_next)));
        }
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
