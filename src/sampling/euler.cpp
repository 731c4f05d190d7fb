// sampling/euler.cpp — k-diffusion sample_euler (Karras et al. 2022, Algorithm 2 without churn).
//   d_i = (x_i - D(x_i, sigma_i)) / sigma_i;   x_{i+1} = x_i + d_i (sigma_{i+1} - sigma_i)
#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_euler(const KSamplerArgs& a, Tensor x) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i];
        Tensor denoised = a.model(x, sigma);
        Tensor d = to_d(x, sigma, denoised);
        x = axpby(1.0f, x, a.sigmas[i + 1] - sigma, d);
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
