#include "core/half.h"

#include <immintrin.h>

#include "core/error.h"

namespace difu {

float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // normal: rebias 15 -> 127
    } else if (mant == 0) {
        bits = sign;  // +-0
    } else {          // subnormal: normalise
        int e = -1;
        do { ++e; mant <<= 1; } while ((mant & 0x400u) == 0);
        bits = sign | static_cast<uint32_t>(112 - e) << 23 | ((mant & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u);  // inf / nan
    if (ax >= 0x477ff000u) return sign | 0x7c00u;                                      // overflow -> inf
    if (ax < 0x38800000u) {                                                            // subnormal or zero
        // Add 0.5 (as float) so the FPU's round-to-nearest-even does the rounding for us.
        float v;
        std::memcpy(&v, &ax, 4);
        v += 0.5f;
        uint32_t vb;
        std::memcpy(&vb, &v, 4);
        return sign | static_cast<uint16_t>(vb - 0x3f000000u);
    }
    const uint32_t mant_odd = (ax >> 13) & 1u;
    uint32_t r = ax + 0xc8000fffu + mant_odd;  // rebias 127 -> 15 and round to nearest even
    return sign | static_cast<uint16_t>(r >> 13);
}

void convert_f16_to_f32(std::span<const uint16_t> in, std::span<float> out) {
    DIFU_CHECK(in.size() == out.size(), "convert_f16_to_f32 size mismatch");
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= in.size(); i += 8) {
        __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.data() + i));
        _mm256_storeu_ps(out.data() + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < in.size(); ++i) out[i] = f16_to_f32(in[i]);
}

void convert_bf16_to_f32(std::span<const uint16_t> in, std::span<float> out) {
    DIFU_CHECK(in.size() == out.size(), "convert_bf16_to_f32 size mismatch");
    size_t i = 0;
#if defined(__AVX2__)
    for (; i + 8 <= in.size(); i += 8) {
        __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.data() + i));
        __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(out.data() + i, _mm256_castsi256_ps(w));
    }
#endif
    for (; i < in.size(); ++i) out[i] = bf16_to_f32(in[i]);
}

void convert_f32_to_f16(std::span<const float> in, std::span<uint16_t> out) {
    DIFU_CHECK(in.size() == out.size(), "convert_f32_to_f16 size mismatch");
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= in.size(); i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in.data() + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out.data() + i), h);
    }
#endif
    for (; i < in.size(); ++i) out[i] = f32_to_f16(in[i]);
}

void convert_f32_to_bf16(std::span<const float> in, std::span<uint16_t> out) {
    DIFU_CHECK(in.size() == out.size(), "convert_f32_to_bf16 size mismatch");
    for (size_t i = 0; i < in.size(); ++i) out[i] = f32_to_bf16(in[i]);  // auto-vectorises
}

}  // namespace difu
