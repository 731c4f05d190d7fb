// kernels/attention_bf16.cpp — the bf16 path of kernels/attention.h (AVX512_BF16), used when the
// model computes in bf16 (kernels/precision.h): kernels/attention_lanes.h with two bf16 per word and
// vdpbf16ps (two products summed into each fp32 lane: 2x the fp32 FMA rate on AMD Zen 4/5).
// Accuracy: q, k, v and the probabilities are rounded to bf16 (relative 2^-9); sums are fp32.
#include <immintrin.h>

#include <cstdint>

#define DIFU_ATTENTION_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))
#include "kernels/attention_lanes.h"

namespace difu::detail {

namespace {

constexpr int64_t kLanes = lanes::kLanes;

// Interleaves the bf16 roundings of a and b: [a0, b0, a1, b1, ..., a15, b15].
DIFU_ATTENTION_TARGET inline __m512i interleave_bf16(__m512 a, __m512 b) {
    // cvtne2ps puts its second operand in the low half: [a0..a15, b0..b15].
    const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(b, a);
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,  //
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(pairs, halves);
}

struct Bf16Ops {
    using Word = uint32_t;  // two bf16 of the summed index
    static constexpr int64_t kPack = 2;

    DIFU_ATTENTION_TARGET static __m512 dot(__m512 acc, __m512 lanes, uint32_t word) {
        return _mm512_dpbf16_ps(acc, (__m512bh)lanes, (__m512bh)_mm512_set1_epi32(static_cast<int>(word)));
    }
    // Channel pairs (x[2w], x[2w + 1]) of a row, 32 channels per step.
    DIFU_ATTENTION_TARGET static void to_words(const float* x, int64_t n, float scale, uint32_t* out) {
        const __m512 sc = _mm512_set1_ps(scale);
        for (int64_t c = 0; c < n; c += 2 * kLanes) {
            const __mmask16 lo = n - c >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (n - c)) - 1);
            const int64_t rest = n - c - kLanes;
            const __mmask16 hi = rest >= kLanes ? __mmask16(0xffff) : rest > 0 ? __mmask16((1u << rest) - 1) : 0;
            const __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(lo, x + c), sc);
            const __m512 b = _mm512_mul_ps(_mm512_maskz_loadu_ps(hi, x + c + kLanes), sc);
            // cvtne2ps(b, a) = [a0..a15, b0..b15]: memory order, so channel pairs fall out as words.
            const __mmask16 words = n - c >= 2 * kLanes ? __mmask16(0xffff) : __mmask16((1u << ((n - c) / 2)) - 1);
            _mm512_mask_storeu_epi32(out + c / 2, words, (__m512i)_mm512_cvtne2ps_pbh(b, a));
        }
    }
    // Probability vectors of keys 2u and 2u + 1 interleaved into pairs.
    DIFU_ATTENTION_TARGET static void pack_probabilities(const __m512* p, int64_t units, __m512* out) {
        for (int64_t u = 0; u < units; ++u) out[u] = (__m512)interleave_bf16(p[2 * u], p[2 * u + 1]);
    }
    // Vp row u: (V[2u][c], V[2u + 1][c]) for each channel c; a missing second key is zero.
    DIFU_ATTENTION_TARGET static void pack_values(const float* v, const AttentionShape& s, int64_t u, uint32_t* out) {
        const int64_t D = s.head_dim, j = 2 * u;
        const float* v0 = v + j * s.v_stride;
        const float* v1 = j + 1 < s.kv_len ? v + (j + 1) * s.v_stride : nullptr;
        for (int64_t c = 0; c < D; c += kLanes) {
            const __mmask16 mask = D - c >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (D - c)) - 1);
            const __m512 a = _mm512_maskz_loadu_ps(mask, v0 + c);
            const __m512 b = v1 ? _mm512_maskz_loadu_ps(mask, v1 + c) : _mm512_setzero_ps();
            _mm512_mask_storeu_epi32(out + c, mask, interleave_bf16(a, b));
        }
    }
};

using Kernel = lanes::Attention<Bf16Ops>;

}  // namespace

bool attention_bf16_supported(const AttentionShape& s) {
    static const bool cpu = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
    return cpu && Kernel::supported(s);
}

void attention_bf16(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
    Kernel::run(q, k, v, out, s, scale);
}

}  // namespace difu::detail
