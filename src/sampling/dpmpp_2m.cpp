// sampling/dpmpp_2m.cpp — k-diffusion sample_dpmpp_2m ("DPM++ 2M", Lu et al. 2022, multistep), in
// t = -log sigma:  h = t_{i+1} - t_i;  x_{i+1} = (sigma_{i+1}/sigma_i) x_i - expm1(-h) D'_i, where
// D'_i = (1 + 1/2r) D_i - (1/2r) D_{i-1},  r = h_{i-1} / h   (first and last step: D'_i = D_i).
#include <cmath>
#include <optional>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

Tensor sample_dpmpp_2m(const KSamplerArgs& a, Tensor x) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    auto t_fn = [](float sigma) { return -std::log(sigma); };  // t = -log(sigma); sigma 0 -> t = inf
    std::optional<Tensor> old_denoised;
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i], next = a.sigmas[i + 1];
        Tensor denoised = a.model(x, sigma);
        const float t = t_fn(sigma), t_next = t_fn(next), h = t_next - t;
        const float ratio = std::exp(-t_next) / std::exp(-t);  // sigma_fn(t_next) / sigma_fn(t); 0 at the end
        const float gain = -std::expm1(-h);
        if (!old_denoised || next == 0) {
            x = axpby(ratio, x, gain, denoised);
        } else {
            const float h_last = t - t_fn(a.sigmas[i - 1]), r = h_last / h;
            // x = ratio x - expm1(-h) ((1 + 1/2r) D - (1/2r) D_old)
            x = axpbypcz(ratio, x, gain * (1 + 1 / (2 * r)), denoised, -gain / (2 * r), *old_denoised);
        }
        report_step(a.callback, i, steps, x, denoised);
        old_denoised = std::move(denoised);
    }
    return x;
}

}  // namespace difu
