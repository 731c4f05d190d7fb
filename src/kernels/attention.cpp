#include "kernels/attention.h"
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

// One (batch, head, query tile): online softmax over key tiles (Milakov & Gimelshein 2018).
void attend_tile(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale,
                 int64_t q0, int64_t q1) {
    const int64_t D = s.head_dim, rows = q1 - q0;
    float scores[kQueryTile][kKeyTile];
    float row_max[kQueryTile], row_sum[kQueryTile];
    std::vector<float> acc(static_cast<size_t>(rows * D), 0.0f);
    std::fill(row_max, row_max + rows, -std::numeric_limits<float>::infinity());
    std::fill(row_sum, row_sum + rows, 0.0f);
    const int64_t kv_end = s.causal ? std::min(s.kv_len, q1) : s.kv_len;  // keys beyond q1-1 are all masked
    for (int64_t k0 = 0; k0 < kv_end; k0 += kKeyTile) {
        const int64_t k1 = std::min(k0 + kKeyTile, kv_end), cols = k1 - k0;
        for (int64_t i = 0; i < rows; ++i) {
            const float* qi = q + (q0 + i) * s.q_stride;
            float tile_max = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < cols; ++j) {
                float dot = 0;
                const float* kj = k + (k0 + j) * s.k_stride;
#pragma omp simd reduction(+ : dot)
                for (int64_t d = 0; d < D; ++d) dot += qi[d] * kj[d];
                float sc = dot * scale;
                if (s.causal && k0 + j > q0 + i) sc = -std::numeric_limits<float>::infinity();
                scores[i][j] = sc;
                tile_max = std::max(tile_max, sc);
            }
            const float new_max = std::max(row_max[i], tile_max);
            if (new_max == -std::numeric_limits<float>::infinity()) continue;  // every key so far masked
            const float correction = std::exp(row_max[i] - new_max);
            float* ai = acc.data() + i * D;
            float sum = row_sum[i] * correction;
            for (int64_t d = 0; d < D; ++d) ai[d] *= correction;
            for (int64_t j = 0; j < cols; ++j) {
                const float p = std::exp(scores[i][j] - new_max);
                sum += p;
                const float* vj = v + (k0 + j) * s.v_stride;
#pragma omp simd
                for (int64_t d = 0; d < D; ++d) ai[d] += p * vj[d];
            }
            row_sum[i] = sum;
            row_max[i] = new_max;
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
