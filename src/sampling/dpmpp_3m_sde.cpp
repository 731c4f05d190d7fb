// sampling/dpmpp_3m_sde.cpp — k-diffusion sample_dpmpp_3m_sde ("DPM++ 3M SDE"): third-order multistep
// DPM-Solver++ with SDE noise, h = log(sigma_i / sigma_{i+1}), h_eta = h (eta + 1):
//   x = e^{-h_eta} x + (1 - e^{-h_eta}) D_i + phi_2 d1 - phi_3 d2 + sigma_{i+1} sqrt(1 - e^{-2 h eta}) z
//   phi_2 = (e^{-h_eta} - 1)/h_eta + 1,  phi_3 = phi_2 / h_eta - 1/2,
//   d1, d2 the first and second divided differences of the last three D (r0 = h_1/h, r1 = h_2/h);
// with two D so far only phi_2 (D_i - D_{i-1}) / r0, with one neither; x = D at the last step.
#include <cmath>
#include <optional>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpmpp_3m_sde(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    std::optional<Tensor> denoised_1, denoised_2;
    std::optional<float> h_1, h_2;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        float h = 0.0f;
        if (next == 0) {
            x = denoised;
        } else {
            const float t = -std::log(sigma), s = -std::log(next);
            h = s - t;
            const float h_eta = h * (eta + 1.0f);
            x = axpby(std::exp(-h_eta), x, -std::expm1(-h_eta), denoised);
            const float phi_2 = std::expm1(-h_eta) / h_eta + 1.0f;
            if (h_2) {
                const float r0 = *h_1 / h, r1 = *h_2 / h;
                // d1_0 = (D - D1)/r0, d1_1 = (D1 - D2)/r1; d1 = d1_0 + (d1_0 - d1_1) r0/(r0 + r1); d2 = (d1_0 - d1_1)/(r0 + r1)
                Tensor d1_0 = axpby(1.0f / r0, denoised, -1.0f / r0, *denoised_1);
                Tensor d1_1 = axpby(1.0f / r1, *denoised_1, -1.0f / r1, *denoised_2);
                Tensor diff = axpby(1.0f, d1_0, -1.0f, d1_1);
                Tensor d1 = axpby(1.0f, d1_0, r0 / (r0 + r1), diff);
                Tensor d2 = scaled(diff, 1.0f / (r0 + r1));
                const float phi_3 = phi_2 / h_eta - 0.5f;
                x = axpbypcz(1.0f, x, phi_2, d1, -phi_3, d2);
            } else if (h_1) {
                const float r = *h_1 / h;
                x = axpbypcz(1.0f, x, phi_2 / r, denoised, -phi_2 / r, *denoised_1);
            }
            if (eta != 0.0f)
                x = axpby(1.0f, x, next * std::sqrt(-std::expm1(-2.0f * h * eta)), noise(x.shape(), sigma, next));
        }
        report_step(a.callback, i, steps, x, denoised);
        denoised_2 = std::move(denoised_1);
        denoised_1 = std::move(denoised);
        h_2 = h_1;
        h_1 = h;
    }
    return x;
}

}  // namespace difu
