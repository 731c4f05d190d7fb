// sampling/dpmpp_2m_sde.cpp — k-diffusion sample_dpmpp_2m_sde ("DPM++ 2M SDE", and "... Heun"), the
// multistep DPM-Solver++(2M) with SDE noise, in h = log(sigma_i / sigma_{i+1}), eta h:
//   x = (sigma_{i+1}/sigma_i) e^{-eta h} x + (1 - e^{-h - eta h}) D_i
//     + c (D_i - D_{i-1}) / r,   r = h_{i-1} / h,
//       c = (1 - e^{-h-eta h}) / 2                          (midpoint)
//       c = (1 - e^{-h-eta h}) / (-h - eta h) + 1           (heun)
//     + sigma_{i+1} sqrt(1 - e^{-2 eta h}) z
// and x = D at the last step (sigma 0).
#include <cmath>
#include <optional>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpmpp_2m_sde(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, SdeSolver solver, float eta) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    std::optional<Tensor> old_denoised;
    float h_last = 0.0f;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        float h = 0.0f;
        if (next == 0) {
            x = denoised;
        } else {
            const float t = -std::log(sigma), s = -std::log(next);
            h = s - t;
            const float eta_h = eta * h;
            const float gain = -std::expm1(-h - eta_h);
            x = axpby(next / sigma * std::exp(-eta_h), x, gain, denoised);
            if (old_denoised) {
                const float r = h_last / h;
                const float c = solver == SdeSolver::Heun ? (gain / (-h - eta_h) + 1.0f) * (1.0f / r) : 0.5f * gain * (1.0f / r);
                x = axpbypcz(1.0f, x, c, denoised, -c, *old_denoised);
            }
            if (eta != 0.0f)
                x = axpby(1.0f, x, next * std::sqrt(-std::expm1(-2.0f * eta_h)), noise(x.shape(), sigma, next));
        }
        report_step(a.callback, i, steps, x, denoised);
        old_denoised = std::move(denoised);
        h_last = h;
    }
    return x;
}

}  // namespace difu
