// sampling/tensor_math.h — the few element-wise expressions samplers are written in, over
// contiguous f32 tensors of equal shape. Sampler state is small (one latent), so clarity wins here.
#pragma once
#include "core/tensor.h"

namespace difu {

// a * x + b * y
Tensor axpby(float a, const Tensor& x, float b, const Tensor& y);
// a * x + b * y + c * z
Tensor axpbypcz(float a, const Tensor& x, float b, const Tensor& y, float c, const Tensor& z);
Tensor scaled(const Tensor& x, float a);
// (x - denoised) / sigma: k-diffusion's to_d
Tensor to_d(const Tensor& x, float sigma, const Tensor& denoised);

}  // namespace difu
