// kernels/attention_bf16.cpp — the bf16 path of kernels/attention.h (AVX512_BF16), used when the
// model computes in bf16 (kernels/precision.h). Same online-softmax algorithm as the fp32 paths,
// but both products run on vdpbf16ps (two bf16 products summed into each fp32 lane, 2x the fp32 FMA
// rate on AMD Zen 4/5) and the query rows, not the keys, sit in the vector lanes:
//
//   S^T[j]  (16 queries) = sum_d  K[j][d] * Q^T[d]            one vector per key j
//   m, l    row max / row sum: element-wise over the 16 lanes, no horizontal reductions
//   O^T[c]  (16 queries) = O^T[c] * exp2(m_old - m) + sum_j V[j][c] * P^T[j]
//
// With queries in lanes no head_dim (40 in SD 1.x's first level) wastes lanes. vdpbf16ps pairs
// adjacent elements, so the operands are packed in pairs along the summed index:
//   Qp [D/2][16][2]     a query tile, pairs of channels (scaled by scale * log2 e: softmax in base 2)
//   Kc [kv/16][D/2][16][2]  16 keys' (d, d+1) pairs adjacent; broadcast one key's pair
//   Vp [kv/2][D][2]     rows j, j+1 interleaved per channel; broadcast one (V[j][c], V[j+1][c]) pair
//   Pp [keys/2][16][2]  the tile's probabilities, pairs of keys
// Accuracy: q, k, v and p are rounded to bf16 (relative 2^-9); sums are fp32.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/half.h"
#include "kernels/attention.h"

// GCC 12 reports its own _mm512_undefined_ps() (inside _mm512_max_ps & co.) as maybe-uninitialized
// once these helpers are inlined; a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace difu::detail {

namespace {

constexpr int64_t kLanes = 16;     // queries per tile: one per fp32 lane
constexpr int64_t kTileKeys = 64;  // keys per online-softmax step
constexpr int64_t kKeyChunk = 16;  // score vectors accumulated at once (16 of 32 registers)
constexpr float kLog2e = 1.44269504088896341f;

#define DIFU_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

// Interleaves the bf16 roundings of a and b: [a0, b0, a1, b1, ..., a15, b15].
DIFU_BF16_TARGET inline __m512i interleave_bf16(__m512 a, __m512 b) {
    // cvtne2ps puts its second operand in the low half: [a0..a15, b0..b15].
    const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(b, a);
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,  //
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(pairs, halves);
}

// 2^x for x <= 0 (x >= -126 after the clamp): 2^n * p(f), n = round(x), f in [-1/2, 1/2], p the
// degree-4 Taylor polynomial of 2^f (relative error < 5e-5, far below the bf16 rounding of p).
DIFU_BF16_TARGET inline __m512 exp2_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(9.6181291e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

DIFU_BF16_TARGET inline __m512 dot_pairs(__m512 acc, __m512i a, uint32_t b_pair) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)_mm512_set1_epi32(static_cast<int>(b_pair)));
}

// s[jj] = S^T for the 16 keys of chunk kc (pairs [D/2][16], see PackedHead); keys from `valid` on
// (padding past kv_len) score -inf. Returns the element-wise max over the chunk.
DIFU_BF16_TARGET inline __m512 score_chunk(const __m512i* qp, int64_t pairs, const uint32_t* kc, int64_t valid,
                                           __m512* s) {
    __m512 acc[kKeyChunk];
    for (int64_t jj = 0; jj < kKeyChunk; ++jj) acc[jj] = _mm512_setzero_ps();
    for (int64_t dp = 0; dp < pairs; ++dp) {
        const __m512i q = _mm512_load_si512(qp + dp);
        const uint32_t* k = kc + dp * kKeyChunk;
        for (int64_t jj = 0; jj < kKeyChunk; ++jj) acc[jj] = dot_pairs(acc[jj], q, k[jj]);
    }
    for (int64_t jj = valid; jj < kKeyChunk; ++jj) acc[jj] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t jj = 0; jj < kKeyChunk; ++jj) s[jj] = acc[jj];
    for (int64_t w = kKeyChunk / 2; w > 0; w /= 2)  // a tree: 4 dependent steps, not 15
        for (int64_t jj = 0; jj < w; ++jj) acc[jj] = _mm512_max_ps(acc[jj], acc[jj + w]);
    return acc[0];
}

// out[dp] = (bf16(x[2dp] * scale), bf16(x[2dp + 1] * scale)) for the D (even) channels of one row.
DIFU_BF16_TARGET inline void row_to_pairs(const float* x, int64_t D, __m512 scale, uint32_t* out) {
    for (int64_t c = 0; c < D; c += 2 * kLanes) {  // 32 channels -> 16 pairs per step
        const __mmask16 lo = D - c >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (D - c)) - 1);
        const int64_t rest = D - c - kLanes;
        const __mmask16 hi = rest >= kLanes ? __mmask16(0xffff) : rest > 0 ? __mmask16((1u << rest) - 1) : 0;
        const __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(lo, x + c), scale);
        const __m512 b = _mm512_mul_ps(_mm512_maskz_loadu_ps(hi, x + c + kLanes), scale);
        // cvtne2ps(b, a) = [a0..a15, b0..b15]: memory order, so channel pairs fall out as 32-bit words.
        const __mmask16 words = D - c >= 2 * kLanes ? __mmask16(0xffff) : __mmask16((1u << ((D - c) / 2)) - 1);
        _mm512_mask_storeu_epi32(out + c / 2, words, (__m512i)_mm512_cvtne2ps_pbh(b, a));
    }
}

// Qp of one query tile: Qp[dp][i] = the channel pair dp of row i times qscale; rows from `rows` on
// are zero.
DIFU_BF16_TARGET void pack_queries(const float* q, int64_t stride, int64_t rows, int64_t D, float qscale, uint32_t* qp) {
    std::memset(qp, 0, sizeof(uint32_t) * (D / 2) * kLanes);
    uint32_t row_pairs[256];
    for (int64_t i = 0; i < rows; ++i) {
        row_to_pairs(q + i * stride, D, _mm512_set1_ps(qscale), row_pairs);
        for (int64_t dp = 0; dp < D / 2; ++dp) qp[dp * kLanes + i] = row_pairs[dp];
    }
}

// O^T[c0 .. c0+CH) = O^T * correction + sum over the tile's key pairs of V pair . P^T pair.
template <int CH>
DIFU_BF16_TARGET inline void accumulate_chunk(float* ot, __m512 correction, const __m512i* pp, int64_t key_pairs,
                                              const uint32_t* vp, int64_t D, int64_t c0) {
    // The unroll pragmas keep acc[] in registers: GCC stops fully unrolling at 16 by itself.
    __m512 acc[CH];
#pragma GCC unroll 24
    for (int cc = 0; cc < CH; ++cc) acc[cc] = _mm512_mul_ps(_mm512_load_ps(ot + (c0 + cc) * kLanes), correction);
    for (int64_t jp = 0; jp < key_pairs; ++jp) {
        const __m512i p = _mm512_load_si512(pp + jp);
        const uint32_t* v = vp + jp * D + c0;
#pragma GCC unroll 24
        for (int cc = 0; cc < CH; ++cc) acc[cc] = dot_pairs(acc[cc], p, v[cc]);
    }
#pragma GCC unroll 24
    for (int cc = 0; cc < CH; ++cc) _mm512_store_ps(ot + (c0 + cc) * kLanes, acc[cc]);
}

template <int CH>
DIFU_BF16_TARGET void accumulate_all(float* ot, __m512 correction, const __m512i* pp, int64_t key_pairs,
                                     const uint32_t* vp, int64_t D) {
    for (int64_t c0 = 0; c0 < D; c0 += CH) accumulate_chunk<CH>(ot, correction, pp, key_pairs, vp, D, c0);
}

// Channels per accumulate pass: the largest that divides D and leaves registers for the operands.
using AccumulateFn = void (*)(float*, __m512, const __m512i*, int64_t, const uint32_t*, int64_t);
AccumulateFn accumulate_for(int64_t D) {
    if (D % 20 == 0) return accumulate_all<20>;
    if (D % 16 == 0) return accumulate_all<16>;
    if (D % 12 == 0) return accumulate_all<12>;
    if (D % 8 == 0) return accumulate_all<8>;
    if (D % 4 == 0) return accumulate_all<4>;
    return accumulate_all<2>;
}

struct PackedHead {
    const uint32_t* k;  // Kc: [kv_pad/16][D/2][16]: per chunk of 16 keys, each channel pair's 16 keys adjacent
    const uint32_t* v;  // Vp: [kv_pad/2][D] key pairs
};

// One query tile (rows q0 .. q0+rows) of one (batch, head).
DIFU_BF16_TARGET void attend_tile(const float* q, PackedHead kv, float* out, const AttentionShape& s, float scale,
                                  int64_t q0, int64_t rows, AccumulateFn accumulate) {
    const int64_t D = s.head_dim, pairs = D / 2;
    alignas(64) uint32_t qp[256 * kLanes];  // D <= 512
    alignas(64) float ot[512 * kLanes];
    alignas(64) __m512i pp[kTileKeys / 2];
    __m512 sc[kTileKeys];

    pack_queries(q + q0 * s.q_stride, s.q_stride, rows, D, scale * kLog2e, qp);  // softmax in base 2
    std::memset(ot, 0, sizeof(float) * D * kLanes);
    __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512 l = _mm512_setzero_ps();
    const __m512i* qv = reinterpret_cast<const __m512i*>(qp);

    for (int64_t k0 = 0; k0 < s.kv_len; k0 += kTileKeys) {
        const int64_t cols = std::min(kTileKeys, s.kv_len - k0);
        __m512 m_new = m;
        for (int64_t j0 = 0; j0 < cols; j0 += kKeyChunk)
            m_new = _mm512_max_ps(m_new, score_chunk(qv, pairs, kv.k + (k0 + j0) * pairs, cols - j0, sc + j0));
        const __m512 correction = exp2_ps(_mm512_sub_ps(m, m_new));  // ~0 on the first tile (m = -inf)
        // P = 2^(S - m) in pairs of keys; keys past the end have S = -inf, so P ~ 2^-126 against
        // zero rows of V: no contribution.
        const int64_t key_pairs = (cols + 1) / 2;
        if (cols % 2) sc[cols] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();  // two chains: the add latency
        for (int64_t jp = 0; jp < key_pairs; ++jp) {
            const __m512 a = exp2_ps(_mm512_sub_ps(sc[2 * jp], m_new));
            const __m512 b = exp2_ps(_mm512_sub_ps(sc[2 * jp + 1], m_new));
            sum0 = _mm512_add_ps(sum0, a);
            sum1 = _mm512_add_ps(sum1, b);
            _mm512_store_si512(pp + jp, interleave_bf16(a, b));
        }
        l = _mm512_fmadd_ps(l, correction, _mm512_add_ps(sum0, sum1));
        m = m_new;
        accumulate(ot, correction, pp, key_pairs, kv.v + (k0 / 2) * D, D);
    }

    alignas(64) float inv[kLanes];
    _mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), l));
    for (int64_t i = 0; i < rows; ++i) {
        float* oi = out + (q0 + i) * s.out_stride;
        for (int64_t c = 0; c < D; ++c) oi[c] = ot[c * kLanes + i] * inv[i];
    }
}

// Kc and Vp of one (batch, head); keys past kv_len are zero.
DIFU_BF16_TARGET void pack_head(const float* k, const float* v, const AttentionShape& s, int64_t kv_pad, uint32_t* kc,
                                uint32_t* vp) {
    const int64_t D = s.head_dim, pairs = D / 2;
    std::memset(kc, 0, sizeof(uint32_t) * kv_pad * pairs);
    uint32_t row_pairs[256];
    for (int64_t j = 0; j < s.kv_len; ++j) {
        row_to_pairs(k + j * s.k_stride, D, _mm512_set1_ps(1.0f), row_pairs);
        uint32_t* chunk = kc + (j / kKeyChunk) * pairs * kKeyChunk + j % kKeyChunk;
        for (int64_t dp = 0; dp < pairs; ++dp) chunk[dp * kKeyChunk] = row_pairs[dp];
    }
    for (int64_t jp = 0; jp < kv_pad / 2; ++jp) {
        const int64_t j = 2 * jp;
        const float* v0 = j < s.kv_len ? v + j * s.v_stride : nullptr;
        const float* v1 = j + 1 < s.kv_len ? v + (j + 1) * s.v_stride : nullptr;
        for (int64_t c = 0; c < D; c += kLanes) {
            const __mmask16 mask = D - c >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (D - c)) - 1);
            const __m512 a = v0 ? _mm512_maskz_loadu_ps(mask, v0 + c) : _mm512_setzero_ps();
            const __m512 b = v1 ? _mm512_maskz_loadu_ps(mask, v1 + c) : _mm512_setzero_ps();
            _mm512_mask_storeu_epi32(vp + jp * D + c, mask, interleave_bf16(a, b));
        }
    }
}

}  // namespace

bool attention_bf16_supported(const AttentionShape& s) {
    static const bool cpu = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
    return cpu && !s.causal && s.head_dim % 2 == 0 && s.head_dim <= 512 && s.kv_len > 0;
}

void attention_bf16(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
    const int64_t D = s.head_dim, kv_pad = (s.kv_len + kTileKeys - 1) / kTileKeys * kTileKeys;
    const int64_t head_words = kv_pad * D / 2;  // uint32 pairs per packed K (and per packed V)
    // Reused between calls (kernels run one at a time): a 4096-token SD 1.x layer packs 10 MB.
    static std::vector<uint32_t> packed;
    packed.resize(static_cast<size_t>(2 * s.batch * s.heads * head_words));
    auto head = [&](int64_t b, int64_t h) {
        uint32_t* base = packed.data() + 2 * (b * s.heads + h) * head_words;
        return PackedHead{base, base + head_words};
    };
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t h = 0; h < s.heads; ++h) {
            PackedHead p = head(b, h);
            pack_head(k + b * s.kv_len * s.k_stride + h * D, v + b * s.kv_len * s.v_stride + h * D, s, kv_pad,
                      const_cast<uint32_t*>(p.k), const_cast<uint32_t*>(p.v));
        }
    const AccumulateFn accumulate = accumulate_for(D);
    const int64_t tiles = (s.q_len + kLanes - 1) / kLanes;
#pragma omp parallel for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t h = 0; h < s.heads; ++h)
            for (int64_t t = 0; t < tiles; ++t) {
                const int64_t q0 = t * kLanes;
                attend_tile(q + b * s.q_len * s.q_stride + h * D, head(b, h), out + b * s.q_len * s.out_stride + h * D,
                            s, scale, q0, std::min(kLanes, s.q_len - q0), accumulate);
            }
}

}  // namespace difu::detail
