// kernels/layer_norm.h — LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * g + b
#pragma once
#include <cstdint>

namespace difu {

inline constexpr float kLayerNormEps = 1e-5f;  // torch.nn.LayerNorm default, used by CLIP and the UNet

// x, y: [rows, n] contiguous (y may alias x); gamma, beta: [n].
void layer_norm(const float* x, float* y, int64_t rows, int64_t n, const float* gamma, const float* beta,
                float eps = kLayerNormEps);

}  // namespace difu
