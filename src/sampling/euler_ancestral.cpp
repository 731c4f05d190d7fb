// sampling/euler_ancestral.cpp — k-diffusion sample_euler_ancestral ("Euler a").
//   x_{i+1} = x_i + d_i (sigma_down - sigma_i) + sigma_up z,   d_i = (x_i - D(x_i, sigma_i)) / sigma_i
#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_euler_ancestral(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        const AncestralStep s = ancestral_step(sigma, next, eta);
        Tensor d = to_d(x, sigma, denoised);
        x = axpby(1.0f, x, s.down - sigma, d);
        if (next > 0) x = axpby(1.0f, x, s.up, noise(x.shape(), sigma, next));
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
