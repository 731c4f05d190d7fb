#include <cmath>

#include "sampling/k_samplers.h"

namespace difu {

AncestralStep ancestral_step(float sigma_from, float sigma_to, float eta) {
    if (eta == 0.0f) return {sigma_to, 0.0f};
    const float up = std::min(sigma_to, eta * std::sqrt(sigma_to * sigma_to * (sigma_from * sigma_from - sigma_to * sigma_to) /
                                                        (sigma_from * sigma_from)));
    return {std::sqrt(sigma_to * sigma_to - up * up), up};
}

void report_step(const StepCallback& cb, int step, int steps, const Tensor& x, const Tensor& denoised) {
    if (cb && !cb(step, steps, x, denoised)) throw Cancelled{};
}

}  // namespace difu
