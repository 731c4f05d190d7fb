#include "kernels/attention.h"

#include "kernels/vec_math.h"
#include "kernels/profile.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/flops.h"

namespace difu {
namespace detail {
bool attention_avx512_supported(const AttentionShape& s);
void attention_avx512(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale);
bool attention_bf16_supported(const AttentionShape& s);
void attention_bf16(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale);
}  // namespace detail

namespace {

constexpr int64_t kQueryTile = 16;  // query rows sharing one pass over the keys
constexpr int64_t kKeyTile = 64;    // keys scored at once (fits L1 with head_dim <= 160)

// One (batch, head, query tile): online softmax over key tiles (Milakov & Gimelshein 2018). Each key
// tile is packed transposed ([D][keys]) so that every inner loop runs along the keys, which vectorises
// whatever the head width (SD's tiny fixtures have 4 channels per head, SD 1.x 40, SD 2.x 64).
void attend_tile(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale,
                 int64_t q0, int64_t q1) {
    constexpr float kMasked = -std::numeric_limits<float>::infinity();
    const int64_t D = s.head_dim, rows = q1 - q0;
    std::vector<float> kt(static_cast<size_t>(D * kKeyTile)), vt(static_cast<size_t>(D * kKeyTile));
    std::vector<float> acc(static_cast<size_t>(rows * D), 0.0f);
    float row_max[kQueryTile], row_sum[kQueryTile];
    std::fill(row_max, row_max + rows, kMasked);
    std::fill(row_sum, row_sum + rows, 0.0f);
    const int64_t kv_end = s.causal ? std::min(s.kv_len, q1) : s.kv_len;  // keys beyond q1-1 are all masked
    for (int64_t k0 = 0; k0 < kv_end; k0 += kKeyTile) {
        const int64_t k1 = std::min(k0 + kKeyTile, kv_end), cols = k1 - k0;
        for (int64_t j = 0; j < cols; ++j)
            for (int64_t d = 0; d < D; ++d) {
                kt[d * kKeyTile + j] = k[(k0 + j) * s.k_stride + d];
                vt[d * kKeyTile + j] = v[(k0 + j) * s.v_stride + d];
            }
        for (int64_t i = 0; i < rows; ++i) {
            const float* qi = q + (q0 + i) * s.q_stride;
            float sc[kKeyTile] = {};
            for (int64_t d = 0; d < D; ++d) {
                const float qd = qi[d];
                const float* ktd = kt.data() + d * kKeyTile;
#pragma omp simd
                for (int64_t j = 0; j < cols; ++j) sc[j] += qd * ktd[j];
            }
#pragma omp simd
            for (int64_t j = 0; j < cols; ++j) sc[j] *= scale;
            if (s.causal)
                for (int64_t j = std::max<int64_t>(0, q0 + i + 1 - k0); j < cols; ++j) sc[j] = kMasked;
            float tile_max = kMasked;
#pragma omp simd reduction(max : tile_max)
            for (int64_t j = 0; j < cols; ++j) tile_max = tile_max > sc[j] ? tile_max : sc[j];
            const float new_max = std::max(row_max[i], tile_max);
            if (new_max == kMasked) continue;  // every key so far masked
            const float correction = std::exp(row_max[i] - new_max);
            float tile_sum = 0;
#pragma omp simd reduction(+ : tile_sum)
            for (int64_t j = 0; j < cols; ++j) {
                const float e = vec::exp(sc[j] - new_max);
                sc[j] = sc[j] == kMasked ? 0.0f : e;  // a masked key weighs exactly 0
                tile_sum += sc[j];
            }
            row_sum[i] = row_sum[i] * correction + tile_sum;
            row_max[i] = new_max;
            float* ai = acc.data() + i * D;
            for (int64_t d = 0; d < D; ++d) {
                const float* vtd = vt.data() + d * kKeyTile;
                float pv = 0;
#pragma omp simd reduction(+ : pv)
                for (int64_t j = 0; j < cols; ++j) pv += sc[j] * vtd[j];
                ai[d] = ai[d] * correction + pv;
            }
        }
    }
    for (int64_t i = 0; i < rows; ++i) {
        float* oi = out + (q0 + i) * s.out_stride;
        const float inv = row_sum[i] > 0 ? 1.0f / row_sum[i] : 0.0f;
        for (int64_t d = 0; d < D; ++d) oi[d] = acc[i * D + d] * inv;
    }
}

}  // namespace

void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale,
               Precision precision) {
    KernelScope profile_scope(KernelKind::Attention);
    count_flops(static_cast<uint64_t>(4 * s.batch * s.heads * s.q_len * s.kv_len * s.head_dim));  // QK^T and PV
    if (precision == Precision::BF16 && detail::attention_bf16_supported(s))
        return detail::attention_bf16(q, k, v, out, s, scale);
    if (detail::attention_avx512_supported(s)) return detail::attention_avx512(q, k, v, out, s, scale);
    attention_portable(q, k, v, out, s, scale);
}

// The portable path: any x86-64 (the compiler vectorises the inner loops for the build's ISA).
void attention_portable(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
    const int64_t q_tiles = (s.q_len + kQueryTile - 1) / kQueryTile;
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t h = 0; h < s.heads; ++h)
            for (int64_t t = 0; t < q_tiles; ++t) {
                const int64_t col = h * s.head_dim;
                attend_tile(q + b * s.q_len * s.q_stride + col, k + b * s.kv_len * s.k_stride + col,
                            v + b * s.kv_len * s.v_stride + col, out + b * s.q_len * s.out_stride + col, s, scale,
                            t * kQueryTile, std::min((t + 1) * kQueryTile, s.q_len));
            }
}

}  // namespace difu
