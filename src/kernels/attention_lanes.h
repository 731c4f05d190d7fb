// kernels/attention_lanes.h — the tiled attention both AVX-512 paths share; included by
// attention_avx512.cpp (fp32 FMAs) and attention_bf16.cpp (vdpbf16ps), each defining
// DIFU_ATTENTION_TARGET (its target attribute) and an Ops policy (below) before including it.
//
// Online softmax over key tiles with the query rows, not the keys, in the 16 vector lanes:
//   S^T[j]  (16 queries) = sum_d  K[j][d] * Q^T[d]              one vector per key j
//   m, l    row max / row sum: element-wise over the lanes, no horizontal reductions
//   O^T[c]  (16 queries) = O^T[c] * 2^(m_old - m) + sum_j V[j][c] * P^T[j]
// Every product broadcasts one 32-bit word of K or V against a vector of queries, so no head_dim
// (40 in SD 1.x's first level) wastes lanes. A word holds Ops::kPack elements of the summed index
// (1 float, or 2 bf16 for vdpbf16ps), and the operands are packed so that each loop reads them in order:
//   Qp [D/kPack][16]            one query tile, scaled by scale * log2 e (softmax in base 2)
//   Kc [kv/16][D/kPack][16]     per chunk of 16 keys, each word's 16 keys adjacent
//   Vp [kv/kPack][D]            kPack consecutive keys per word, for each channel
//   Pp [keys/kPack][16]         the tile's probabilities
//
// Ops provides: Word (float or uint32_t), kPack, dot(acc, lanes, word) (acc += lanes x broadcast
// word), to_words(x, n, scale, out) (n floats of a row as n/kPack words), and
// pack_probabilities(p, units, out) (the tile's kTileKeys score vectors as `units` vectors of words).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/attention.h"

// GCC 12 reports its own _mm512_undefined_ps() (inside _mm512_max_ps & co.) as maybe-uninitialized
// once these helpers are inlined; a known false positive. (For the including file, which only
// includes this header to build one path.)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Everything here is internal to the including file (an unnamed namespace): the two paths compile the
// same code for different targets, which must not be merged by the linker.
namespace difu::detail::lanes {
namespace {

constexpr int64_t kLanes = 16;     // queries per tile: one per fp32 lane
constexpr int64_t kTileKeys = 64;  // keys per online-softmax step
constexpr int64_t kKeyChunk = 16;  // score vectors accumulated at once (16 of 32 registers)
constexpr int64_t kMaxHeadDim = 512;
constexpr float kLog2e = 1.44269504088896341f;

// 2^x for x <= 0 (x >= -126 after the clamp): 2^n * p(f), n = round(x), f in [-1/2, 1/2], p the
// degree-5 Taylor polynomial of 2^f (relative error < 3e-6).
DIFU_ATTENTION_TARGET inline __m512 exp2_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.3333558e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// Lanes (queries q0 + i) that may see key `key` under a causal mask: i >= key - q0.
inline __mmask16 causal_visible(int64_t key, int64_t q0) {
    const int64_t first = key - q0;  // the first lane that sees the key
    if (first <= 0) return 0xffff;
    if (first >= kLanes) return 0;
    return static_cast<__mmask16>(0xffffu << first);
}

template <class Ops>
struct Attention {
    using Word = typename Ops::Word;
    static constexpr int64_t kPack = Ops::kPack;

    // s[jj] = S^T for the 16 keys of chunk kc starting at key k; keys from `valid` on (padding) and
    // keys a causal mask hides score -inf. Returns the element-wise max over the chunk.
    DIFU_ATTENTION_TARGET static __m512 score_chunk(const __m512* qp, int64_t words, const Word* kc, int64_t valid,
                                                    bool causal, int64_t key, int64_t q0, __m512* s) {
        __m512 acc[kKeyChunk];
        for (int64_t jj = 0; jj < kKeyChunk; ++jj) acc[jj] = _mm512_setzero_ps();
        for (int64_t w = 0; w < words; ++w) {
            const __m512 q = _mm512_load_ps(reinterpret_cast<const float*>(qp + w));
            const Word* k = kc + w * kKeyChunk;
            for (int64_t jj = 0; jj < kKeyChunk; ++jj) acc[jj] = Ops::dot(acc[jj], q, k[jj]);
        }
        const __m512 hidden = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        for (int64_t jj = 0; jj < kKeyChunk; ++jj) {
            if (jj >= valid) acc[jj] = hidden;
            else if (causal) acc[jj] = _mm512_mask_mov_ps(hidden, causal_visible(key + jj, q0), acc[jj]);
            s[jj] = acc[jj];
        }
        for (int64_t w = kKeyChunk / 2; w > 0; w /= 2)  // a tree: 4 dependent steps, not 15
            for (int64_t jj = 0; jj < w; ++jj) acc[jj] = _mm512_max_ps(acc[jj], acc[jj + w]);
        return acc[0];
    }

    // O^T[c0 .. c0+CH) = O^T * correction + sum over the tile's key words of V word . P word.
    template <int CH>
    DIFU_ATTENTION_TARGET static void accumulate_chunk(float* ot, __m512 correction, const __m512* pp, int64_t units,
                                                       const Word* vp, int64_t D, int64_t c0) {
        // The unroll pragmas keep acc[] in registers: GCC stops fully unrolling at 16 by itself.
        __m512 acc[CH];
#pragma GCC unroll 24
        for (int cc = 0; cc < CH; ++cc) acc[cc] = _mm512_mul_ps(_mm512_load_ps(ot + (c0 + cc) * kLanes), correction);
        for (int64_t u = 0; u < units; ++u) {
            const __m512 p = pp[u];
            const Word* v = vp + u * D + c0;
#pragma GCC unroll 24
            for (int cc = 0; cc < CH; ++cc) acc[cc] = Ops::dot(acc[cc], p, v[cc]);
        }
#pragma GCC unroll 24
        for (int cc = 0; cc < CH; ++cc) _mm512_store_ps(ot + (c0 + cc) * kLanes, acc[cc]);
    }

    template <int CH>
    DIFU_ATTENTION_TARGET static void accumulate_all(float* ot, __m512 correction, const __m512* pp, int64_t units,
                                                     const Word* vp, int64_t D) {
        for (int64_t c0 = 0; c0 < D; c0 += CH) accumulate_chunk<CH>(ot, correction, pp, units, vp, D, c0);
    }

    // Channels per accumulate pass: the largest that divides D and leaves registers for the operands.
    using AccumulateFn = void (*)(float*, __m512, const __m512*, int64_t, const Word*, int64_t);
    static AccumulateFn accumulate_for(int64_t D) {
        if (D % 20 == 0) return accumulate_all<20>;
        if (D % 16 == 0) return accumulate_all<16>;
        if (D % 12 == 0) return accumulate_all<12>;
        if (D % 8 == 0) return accumulate_all<8>;
        if (D % 4 == 0) return accumulate_all<4>;
        if (D % 2 == 0) return accumulate_all<2>;
        return accumulate_all<1>;
    }

    struct PackedHead {
        Word* k;  // Kc
        Word* v;  // Vp
    };

    // One query tile (rows q0 .. q0+rows) of one (batch, head).
    DIFU_ATTENTION_TARGET static void attend_tile(const float* q, PackedHead kv, float* out, const AttentionShape& s,
                                                  float scale, int64_t q0, int64_t rows, AccumulateFn accumulate) {
        const int64_t D = s.head_dim, words = D / kPack;
        alignas(64) Word qp[kMaxHeadDim * kLanes];
        alignas(64) float ot[kMaxHeadDim * kLanes];
        __m512 pp[kTileKeys];
        __m512 sc[kTileKeys + 1];

        // Qp[w][i] = word w of query row i, times scale * log2 e; rows from `rows` on are zero.
        std::memset(qp, 0, sizeof(Word) * words * kLanes);
        Word row[kMaxHeadDim];
        for (int64_t i = 0; i < rows; ++i) {
            Ops::to_words(q + (q0 + i) * s.q_stride, D, scale * kLog2e, row);
            for (int64_t w = 0; w < words; ++w) qp[w * kLanes + i] = row[w];
        }
        std::memset(ot, 0, sizeof(float) * D * kLanes);
        __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        __m512 l = _mm512_setzero_ps();
        const __m512* qv = reinterpret_cast<const __m512*>(qp);
        const int64_t kv_end = s.causal ? std::min(s.kv_len, q0 + rows) : s.kv_len;  // later keys are all hidden

        for (int64_t k0 = 0; k0 < kv_end; k0 += kTileKeys) {
            const int64_t cols = std::min(kTileKeys, kv_end - k0);
            __m512 m_new = m;
            for (int64_t j0 = 0; j0 < cols; j0 += kKeyChunk)
                m_new = _mm512_max_ps(m_new, score_chunk(qv, words, kv.k + (k0 + j0) * words, cols - j0, s.causal,
                                                         k0 + j0, q0, sc + j0));
            const __m512 correction = exp2_ps(_mm512_sub_ps(m, m_new));  // ~0 on the first tile (m = -inf)
            // P = 2^(S - m); keys past the end (and a pair's missing partner) score -inf, so P ~ 2^-126
            // against zero rows of V: no contribution.
            const int64_t units = (cols + kPack - 1) / kPack;
            for (int64_t j = cols; j < units * kPack; ++j) sc[j] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
            __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();  // two chains: the add latency
            for (int64_t j = 0; j < units * kPack; ++j) {
                sc[j] = exp2_ps(_mm512_sub_ps(sc[j], m_new));
                if (j % 2) sum1 = _mm512_add_ps(sum1, sc[j]);
                else sum0 = _mm512_add_ps(sum0, sc[j]);
            }
            Ops::pack_probabilities(sc, units, pp);
            l = _mm512_fmadd_ps(l, correction, _mm512_add_ps(sum0, sum1));
            m = m_new;
            accumulate(ot, correction, pp, units, kv.v + (k0 / kPack) * D, D);
        }

        alignas(64) float inv[kLanes];
        _mm512_store_ps(inv, _mm512_div_ps(_mm512_set1_ps(1.0f), l));
        for (int64_t i = 0; i < rows; ++i) {
            float* oi = out + (q0 + i) * s.out_stride;
            for (int64_t c = 0; c < D; ++c) oi[c] = ot[c * kLanes + i] * inv[i];
        }
    }

    // Kc and Vp of one (batch, head); keys past kv_len are zero.
    DIFU_ATTENTION_TARGET static void pack_head(const float* k, const float* v, const AttentionShape& s, int64_t kv_pad,
                                                PackedHead out) {
        const int64_t D = s.head_dim, words = D / kPack;
        std::memset(out.k, 0, sizeof(Word) * kv_pad * words);
        std::memset(out.v, 0, sizeof(Word) * kv_pad / kPack * D);
        Word row[kMaxHeadDim];
        for (int64_t j = 0; j < s.kv_len; ++j) {
            Ops::to_words(k + j * s.k_stride, D, 1.0f, row);
            Word* chunk = out.k + (j / kKeyChunk) * words * kKeyChunk + j % kKeyChunk;
            for (int64_t w = 0; w < words; ++w) chunk[w * kKeyChunk] = row[w];
        }
        for (int64_t u = 0; u < (s.kv_len + kPack - 1) / kPack; ++u) Ops::pack_values(v, s, u, out.v + u * D);
    }

    static bool supported(const AttentionShape& s) { return s.head_dim % kPack == 0 && s.head_dim <= kMaxHeadDim && s.kv_len > 0; }

    static void run(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
        const int64_t D = s.head_dim, kv_pad = (s.kv_len + kTileKeys - 1) / kTileKeys * kTileKeys;
        const int64_t head_words = kv_pad * D / kPack;  // words per packed K (and per packed V)
        // Reused between calls (kernels run one at a time): a 4096-token SD 1.x layer packs 10-20 MB.
        static std::vector<Word> packed;
        packed.resize(static_cast<size_t>(2 * s.batch * s.heads * head_words));
        auto head = [&](int64_t b, int64_t h) {
            Word* base = packed.data() + 2 * (b * s.heads + h) * head_words;
            return PackedHead{base, base + head_words};
        };
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t b = 0; b < s.batch; ++b)
            for (int64_t h = 0; h < s.heads; ++h)
                pack_head(k + b * s.kv_len * s.k_stride + h * D, v + b * s.kv_len * s.v_stride + h * D, s, kv_pad, head(b, h));
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
};

}  // namespace
}  // namespace difu::detail::lanes
