// sampling/heun.cpp — k-diffusion sample_heun (Karras et al. 2022, Algorithm 2, no churn):
// an Euler step to sigma_{i+1}, then the average of the slopes at both ends (Euler on the last step).
#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_heun(const KSamplerArgs& a, Tensor x) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1], dt = next - sigma;
        Tensor denoised = a.model(x, sigma);
        Tensor d = to_d(x, sigma, denoised);
        if (next == 0) {
            x = axpby(1.0f, x, dt, d);
        } else {
            Tensor x2 = axpby(1.0f, x, dt, d);
            Tensor d2 = to_d(x2, next, a.model(x2, next));
            x = axpbypcz(1.0f, x, 0.5f * dt, d, 0.5f * dt, d2);  // x + (d + d2)/2 * dt
        }
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
