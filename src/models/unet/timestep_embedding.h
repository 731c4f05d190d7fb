// models/unet/timestep_embedding.h — openaimodel.timestep_embedding: for dim channels, half = dim/2,
//   freqs_i = exp(-ln(10000) i / half),  emb = [cos(t freqs), sin(t freqs)]   (cos first)
// t may be fractional (k-diffusion samplers call the UNet between integer timesteps).
#pragma once
#include <span>

#include "core/tensor.h"

namespace difu {

inline constexpr double kTimestepMaxPeriod = 10000.0;

Tensor timestep_embedding(std::span<const float> timesteps, int64_t dim);  // [N, dim]

}  // namespace difu
