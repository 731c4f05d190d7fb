// kernels/attention_avx512.cpp — the fp32 AVX-512 path of kernels/attention.h, chosen at run time
// when the CPU has AVX-512F: kernels/attention_lanes.h with one float per word and FMAs.
#include <immintrin.h>

#define DIFU_ATTENTION_TARGET __attribute__((target("avx512f")))
#include "kernels/attention_lanes.h"

namespace difu::detail {

namespace {

struct Fp32Ops {
    using Word = float;
    static constexpr int64_t kPack = 1;

    DIFU_ATTENTION_TARGET static __m512 dot(__m512 acc, __m512 lanes, float word) {
        return _mm512_fmadd_ps(lanes, _mm512_set1_ps(word), acc);
    }
    static void to_words(const float* x, int64_t n, float scale, float* out) {
        for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale;
    }
    DIFU_ATTENTION_TARGET static void pack_probabilities(const __m512* p, int64_t units, __m512* out) {
        for (int64_t u = 0; u < units; ++u) out[u] = p[u];
    }
    // Vp row u = V[u] (the head's channels, contiguous).
    static void pack_values(const float* v, const AttentionShape& s, int64_t u, float* out) {
        std::memcpy(out, v + u * s.v_stride, sizeof(float) * s.head_dim);
    }
};

using Kernel = lanes::Attention<Fp32Ops>;

}  // namespace

bool attention_avx512_supported(const AttentionShape& s) {
    static const bool cpu = __builtin_cpu_supports("avx512f");
    return cpu && Kernel::supported(s);
}

void attention_avx512(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
    Kernel::run(q, k, v, out, s, scale);
}

}  // namespace difu::detail
