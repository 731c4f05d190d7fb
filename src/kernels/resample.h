// kernels/resample.h — layout helpers of the UNet/VAE over NHWC tensors.
#pragma once
#include <cstdint>

namespace difu {

// Nearest-neighbour 2x upsampling (F.interpolate(scale_factor=2, mode="nearest")): [n,h,w,c] -> [n,2h,2w,c].
void upsample_nearest2x(const float* x, float* y, int64_t n, int64_t h, int64_t w, int64_t c);

// Channel concatenation (torch.cat(dim=1) in NCHW): [rows, ca] ++ [rows, cb] -> [rows, ca + cb].
void concat_channels(const float* a, int64_t ca, const float* b, int64_t cb, float* y, int64_t rows);

// NCHW <-> NHWC, for the model boundaries (checkpoint-facing tensors are NCHW).
void nchw_to_nhwc(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w);
void nhwc_to_nchw(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w);

}  // namespace difu
