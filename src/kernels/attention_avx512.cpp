// kernels/attention_avx512.cpp — the AVX-512 path of kernels/attention.h, chosen at run time when
// the CPU has AVX-512F. Same algorithm as the portable path (online softmax over key tiles), laid
// out for the vector unit:
//   scores S[16 x 64]  = (scale Q)[16 x D] . K^T[D x 64]   K transposed once per head, 16 keys per vector
//   acc    O[16 x D]  += P[16 x 64] . V[64 x D]             16 output channels per vector
// Both products keep 16 accumulator registers (one per query row) and fold the broadcast of the
// other operand into the FMA, so each vector load feeds 16 FMAs.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/attention.h"

namespace difu::detail {

constexpr int64_t kRows = 16;     // query rows per tile (one accumulator register each)
constexpr int64_t kKeys = 64;     // keys per tile (4 vectors)
constexpr int64_t kLanes = 16;    // floats per zmm

// exp(x) for x <= 0 (softmax arguments after subtracting the row max), ~2 ulp: 2^n * p(r) with
// n = round(x log2 e), r = x - n ln 2 (Cody-Waite), p a degree-6 polynomial.
__attribute__((target("avx512f"))) static inline __m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

// S[i][j] = sum_d Q[i][d] Kt[d][j] for rows i < rows, 64 keys starting at kt (row stride ldk).
__attribute__((target("avx512f"))) static void score_tile(const float* q, int64_t D, const float* kt, int64_t ldk,
                                                         int64_t rows, float s[kRows][kKeys]) {
    for (int64_t c = 0; c < kKeys; c += kLanes) {
        __m512 acc[kRows];
        for (int64_t i = 0; i < kRows; ++i) acc[i] = _mm512_setzero_ps();
        for (int64_t d = 0; d < D; ++d) {
            const __m512 k = _mm512_loadu_ps(kt + d * ldk + c);
            for (int64_t i = 0; i < kRows; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(q[i * D + d]), k, acc[i]);
        }
        for (int64_t i = 0; i < rows; ++i) _mm512_storeu_ps(&s[i][c], acc[i]);
    }
}

// O[i][:] = O[i][:] * correction[i] + sum_j P[i][j] V[j][:]  over `cols` keys.
__attribute__((target("avx512f"))) static void accumulate_tile(const float p[kRows][kKeys], int64_t cols,
                                                              const float* v, int64_t ldv, int64_t D,
                                                              const float* correction, float* o) {
    for (int64_t c = 0; c < D; c += kLanes) {
        const __mmask16 m = D - c >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (D - c)) - 1);
        __m512 acc[kRows];
        for (int64_t i = 0; i < kRows; ++i)
            acc[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + i * D + c), _mm512_set1_ps(correction[i]));
        for (int64_t j = 0; j < cols; ++j) {
            const __m512 vj = _mm512_maskz_loadu_ps(m, v + j * ldv + c);
            for (int64_t i = 0; i < kRows; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i][j]), vj, acc[i]);
        }
        for (int64_t i = 0; i < kRows; ++i) _mm512_mask_storeu_ps(o + i * D + c, m, acc[i]);
    }
}

// One (batch, head): kt = K^T [D][kv_pad] (zero-padded to whole tiles).
__attribute__((target("avx512f"))) static void attend_head(const float* q, const float* kt, int64_t kv_pad,
                                                          const float* v, float* out, const AttentionShape& s,
                                                          float scale, int64_t q0, int64_t q1) {
    const int64_t D = s.head_dim, rows = q1 - q0;
    alignas(64) float qs[kRows * 512];   // head_dim <= 512 (the VAE's single head)
    alignas(64) float o[kRows * 512];
    alignas(64) float sc[kRows][kKeys];
    float row_max[kRows], row_sum[kRows], correction[kRows];
    std::memset(qs, 0, sizeof(float) * kRows * D);
    std::memset(o, 0, sizeof(float) * kRows * D);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t d = 0; d < D; ++d) qs[i * D + d] = q[(q0 + i) * s.q_stride + d] * scale;
    std::fill(row_max, row_max + kRows, -std::numeric_limits<float>::infinity());
    std::fill(row_sum, row_sum + kRows, 0.0f);
    const int64_t kv_end = s.causal ? std::min(s.kv_len, q1) : s.kv_len;
    for (int64_t k0 = 0; k0 < kv_end; k0 += kKeys) {
        const int64_t cols = std::min(kKeys, kv_end - k0);
        score_tile(qs, D, kt + k0, kv_pad, rows, sc);
        for (int64_t i = 0; i < rows; ++i) {
            const int64_t limit = s.causal ? std::min(cols, q0 + i + 1 - k0) : cols;  // keys this row may see
            for (int64_t j = std::max<int64_t>(limit, 0); j < kKeys; ++j) sc[i][j] = -std::numeric_limits<float>::infinity();
            __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
            for (int64_t c = 0; c < kKeys; c += kLanes) mx = _mm512_max_ps(mx, _mm512_loadu_ps(&sc[i][c]));
            const float tile_max = _mm512_reduce_max_ps(mx);
            const float new_max = std::max(row_max[i], tile_max);
            if (new_max == -std::numeric_limits<float>::infinity()) {  // nothing visible yet
                correction[i] = 1.0f;
                std::fill(sc[i], sc[i] + kKeys, 0.0f);
                continue;
            }
            correction[i] = std::exp(row_max[i] - new_max);
            __m512 sum = _mm512_setzero_ps();
            const __m512 nm = _mm512_set1_ps(new_max);
            for (int64_t c = 0; c < kKeys; c += kLanes) {
                const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(&sc[i][c]), nm));
                _mm512_storeu_ps(&sc[i][c], e);
                sum = _mm512_add_ps(sum, e);
            }
            row_sum[i] = row_sum[i] * correction[i] + _mm512_reduce_add_ps(sum);
            row_max[i] = new_max;
        }
        for (int64_t i = rows; i < kRows; ++i) {
            correction[i] = 0.0f;
            std::fill(sc[i], sc[i] + kKeys, 0.0f);
        }
        accumulate_tile(sc, cols, v + k0 * s.v_stride, s.v_stride, D, correction, o);
    }
    for (int64_t i = 0; i < rows; ++i) {
        const float inv = row_sum[i] > 0 ? 1.0f / row_sum[i] : 0.0f;
        for (int64_t d = 0; d < D; ++d) out[(q0 + i) * s.out_stride + d] = o[i * D + d] * inv;
    }
}

bool attention_avx512_supported(const AttentionShape& s) {
    static const bool cpu = __builtin_cpu_supports("avx512f");
    return cpu && s.head_dim <= 512;
}

void attention_avx512(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
    const int64_t D = s.head_dim, kv_pad = (s.kv_len + kKeys - 1) / kKeys * kKeys;
    // K^T per (batch, head), zero-padded to whole key tiles: [B, H, D, kv_pad].
    std::vector<float> kt(static_cast<size_t>(s.batch * s.heads * D * kv_pad), 0.0f);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t h = 0; h < s.heads; ++h) {
            float* dst = kt.data() + (b * s.heads + h) * D * kv_pad;
            const float* src = k + b * s.kv_len * s.k_stride + h * D;
            for (int64_t j = 0; j < s.kv_len; ++j)
                for (int64_t d = 0; d < D; ++d) dst[d * kv_pad + j] = src[j * s.k_stride + d];
        }
    const int64_t tiles = (s.q_len + kRows - 1) / kRows;
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t h = 0; h < s.heads; ++h)
            for (int64_t t = 0; t < tiles; ++t) {
                const int64_t col = h * D;
                attend_head(q + b * s.q_len * s.q_stride + col, kt.data() + (b * s.heads + h) * D * kv_pad, kv_pad,
                            v + b * s.kv_len * s.v_stride + col, out + b * s.q_len * s.out_stride + col, s, scale,
                            t * kRows, std::min((t + 1) * kRows, s.q_len));
            }
}

}  // namespace difu::detail
