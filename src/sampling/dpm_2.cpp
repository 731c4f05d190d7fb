// sampling/dpm_2.cpp — k-diffusion sample_dpm_2 ("DPM2"): a midpoint method in log sigma,
//   sigma_mid = exp((log sigma_i + log sigma_{i+1}) / 2);  x_2 = x + d (sigma_mid - sigma_i)
//   x_{i+1} = x + d(x_2, sigma_mid) (sigma_{i+1} - sigma_i)          (Euler on the last step)
#include <cmath>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpm_2(const KSamplerArgs& a, Tensor x) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        Tensor d = to_d(x, sigma, denoised);
        if (next == 0) {
            x = axpby(1.0f, x, next - sigma, d);
        } else {
            const float mid = std::exp(0.5f * (std::log(sigma) + std::log(next)));  // log(sigma).lerp(log(next), 0.5)
            Tensor x2 = axpby(1.0f, x, mid - sigma, d);
            Tensor d2 = to_d(x2, mid, a.model(x2, mid));
            x = axpby(1.0f, x, next - sigma, d2);
        }
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
