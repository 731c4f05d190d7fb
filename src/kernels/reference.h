// kernels/reference.h — the plainest, obviously-right version of every fast kernel ("twins"),
// in double precision where it matters. Used only by tests to hold the fast kernels to account.
#pragma once
#include <cstdint>

#include "kernels/attention.h"

namespace difu::ref {

// y[r, o] = sum_i x[r, i] w[o, i] + b[o]   (b may be null)
void linear(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t in, int64_t out);
void layer_norm(const float* x, float* y, int64_t rows, int64_t n, const float* g, const float* b, float eps);
void quick_gelu(float* x, int64_t n);
void gelu(float* x, int64_t n);
void silu(float* x, int64_t n);
// Direct convolution over NHWC, weight [out, in, kh, kw] (as stored), zero padding.
void conv2d(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t h, int64_t wd, int64_t cin,
            int64_t cout, int64_t kh, int64_t kw, int stride, int pad_top, int pad_left, int64_t oh, int64_t ow);
// Group norm over NHWC, statistics in double, optional SiLU.
void group_norm(const float* x, float* y, int64_t n, int64_t hw, int64_t c, int groups, const float* g, const float* b,
                float eps, bool silu);
// Materialises the whole score matrix, softmax in double.
void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale);

}  // namespace difu::ref
