// models/layers.h — the small tensor operations model blocks are written in, over NHWC activations
// [N, H, W, C] and token sequences [N, L, C]; results come from the forward pass's arena.
#pragma once
#include "core/arena.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"
#include "models/weights.h"

namespace difu {

Tensor group_norm(const NormWeights& w, const Tensor& x, float eps, bool silu, Arena& a);  // x [N, ..., C]
void group_norm_inplace(const NormWeights& w, Tensor& x, float eps, bool silu);  // x is overwritten
Tensor layer_norm(const NormWeights& w, const Tensor& x, Arena& a);                        // over the last dim
Tensor silu(const Tensor& x, Arena& a);
Tensor add(const Tensor& x, const Tensor& y, Arena& a);                 // same shapes
void add_inplace(Tensor& y, const Tensor& x);                           // y += x
void add_channel_bias(Tensor& x, const Tensor& bias);                   // x [N, ..., C] += bias [N, C]
Tensor concat_channels(const Tensor& x, const Tensor& y, Arena& a);     // [.., Cx] ++ [.., Cy]
Tensor upsample_nearest2x(const Tensor& x, Arena& a);                   // [N, H, W, C] -> [N, 2H, 2W, C]
Tensor nchw_to_nhwc(const Tensor& x, Arena& a);
Tensor nhwc_to_nchw(const Tensor& x);                                   // a fresh heap tensor

// A 1x1 convolution over NHWC is a linear map over the channels: its [out, in, 1, 1] weight is used
// as a Linear [out, in] (proj_in / proj_out of SD 1.x SpatialTransformers, VAE attention q/k/v).
Linear conv1x1_as_linear(const Weights& w, const std::string& name, int64_t out, int64_t in);
Conv2d conv(const Weights& w, const std::string& name, int64_t out, int64_t in, int k, ConvGeometry g);

}  // namespace difu
