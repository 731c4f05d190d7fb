// kernels/activations.h — element-wise activations and adds, in place, threaded over the array.
#pragma once
#include <cstdint>

namespace difu {

inline constexpr float kQuickGeluAlpha = 1.702f;  // openai CLIP: x * sigmoid(1.702 x)

void quick_gelu(float* x, int64_t n);
void gelu(float* x, int64_t n);  // exact: 0.5 x (1 + erf(x / sqrt 2)), torch's default
void silu(float* x, int64_t n);  // x * sigmoid(x)
void add_inplace(float* y, const float* x, int64_t n);  // y += x

}  // namespace difu
