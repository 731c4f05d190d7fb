// kernels/attention.h — multi-head scaled dot-product attention, fused and tiled:
//   out_h = softmax(scale * Q_h K_h^T [+ causal mask]) V_h   for every head h,
// computed with an online softmax over key tiles, so the [Lq, Lk] score matrix (4096 x 4096 for a
// 64x64 latent) is never materialised.
#pragma once
#include <cstdint>

#include "kernels/precision.h"

namespace difu {

struct AttentionShape {
    int64_t batch = 1;
    int64_t heads = 1;
    int64_t q_len = 1;
    int64_t kv_len = 1;
    int64_t head_dim = 64;
    // Row strides (in floats) of q, k, v, out: rows are [heads * head_dim] wide when the heads are
    // packed, or wider when q, k, v are slices of one fused projection.
    int64_t q_stride = 0, k_stride = 0, v_stride = 0, out_stride = 0;
    bool causal = false;  // CLIP text: position i attends to j <= i
};

// q [batch, q_len, q_stride], k and v [batch, kv_len, *_stride], out [batch, q_len, out_stride];
// head h uses columns [h * head_dim, (h + 1) * head_dim). scale is usually head_dim^-0.5.
// Picks the fastest path the CPU supports at run time: with Precision::BF16, bf16 products on
// AVX512_BF16 (kernels/attention_bf16.cpp); otherwise fp32 on AVX-512 (kernels/attention_avx512.cpp;
// both are kernels/attention_lanes.h), else the portable path.
void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale,
               Precision precision = Precision::FP32);
void attention_portable(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale);

}  // namespace difu
