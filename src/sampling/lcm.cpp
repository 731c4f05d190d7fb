// sampling/lcm.cpp — k-diffusion / ComfyUI sample_lcm for latent consistency models: each step
// jumps to the model's clean estimate and re-noises it to the next sigma,
//   x_{i+1} = D(x_i, sigma_i) + sigma_{i+1} z.
#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_lcm(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        x = next > 0 ? axpby(1.0f, denoised, next, noise(x.shape(), sigma, next)) : denoised;
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
