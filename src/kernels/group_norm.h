// kernels/group_norm.h — GroupNorm over NHWC activations, optionally fused with SiLU:
//   y = act((x - mean_g) / sqrt(var_g + eps) * gamma_c + beta_c),  statistics per (sample, group)
// over all pixels and the group's C/G channels.
#pragma once
#include <cstdint>

namespace difu {

inline constexpr int kGroupNormGroups = 32;        // every SD normalisation layer uses 32 groups
inline constexpr float kUNetGroupNormEps = 1e-5f;  // openaimodel normalization(): GroupNorm32 default eps
inline constexpr float kLdmNormalizeEps = 1e-6f;   // ldm Normalize(): the VAE and SpatialTransformer.norm

// x, y: [n, hw, c] (y may alias x); gamma, beta: [c]; c must be divisible by groups.
void group_norm(const float* x, float* y, int64_t n, int64_t hw, int64_t c, int groups, const float* gamma,
                const float* beta, float eps, bool silu);

}  // namespace difu
