// kernels/vec_math.h — exp and erf written so that the compiler vectorises loops calling them (no
// libm calls, which stay scalar without -ffast-math). Accuracy: exp within 2 ulp for x in
// [-87, 88]; erf within 5e-7 absolute (the formula's 1.5e-7 plus float evaluation). Their reference is std::exp / std::erf (tests/kernels).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace difu::vec {

// exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (split in two for exactness), exp(r)
// by its degree-6 Taylor-like minimax polynomial on |r| <= ln2 / 2.
inline float exp(float x) {
    // Ternaries, not std::fmin/fmax: those keep NaN semantics the vector min/max lack and so stay
    // libm calls, which blocks vectorisation.
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float n = std::floor(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n as a float
    return p * std::bit_cast<float>(bits);
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// erf(x): Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7, odd-symmetric.
inline float erf(float x) {
    const float a = std::fabs(x);
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    const float y = 1.0f - p * t * exp(-a * a);
    return std::copysign(y, x);
}

inline float gelu(float x) { return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f)); }  // exact-erf GELU
inline float silu(float x) { return x * sigmoid(x); }

}  // namespace difu::vec
