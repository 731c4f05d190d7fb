#include "kernels/activations.h"
#include "kernels/profile.h"

#include <cmath>

namespace difu {

void quick_gelu(float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-kQuickGeluAlpha * x[i]));
}

void gelu(float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
    constexpr float kInvSqrt2 = 0.70710678118654752f;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

void silu(float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void add_inplace(float* y, const float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace difu
