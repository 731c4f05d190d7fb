#include "kernels/activations.h"
#include "kernels/profile.h"

#include <cmath>

#include "kernels/vec_math.h"

namespace difu {

void quick_gelu(float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] * vec::sigmoid(kQuickGeluAlpha * x[i]);
}

void gelu(float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = vec::gelu(x[i]);
}

void silu(float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] = vec::silu(x[i]);
}

void add_inplace(float* y, const float* x, int64_t n) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace difu
