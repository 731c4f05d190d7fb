// core/torch_rng.cpp — torch 1.13's CPU mt19937 generator and its torch.randn (see torch_rng.h).
//
// randn for n >= 16 float values is torch's normal_fill_AVX2: n uniforms u, then per block of 16
// Box–Muller  z_j = sqrt(-2 ln(1 - u_j)) cos(2π u_{j+8}),  z_{j+8} = ... sin(2π u_{j+8}),  j < 8,
// with ln / sincos from avx_mathfun.h (Cephes polynomials, not libm). When 16 does not divide n the
// last 16 values are redrawn from fresh uniforms and transformed again. To be bit-exact the scalar
// code below repeats avx_mathfun's operations in its order, with an FMA exactly where GCC 12
// (-O2 -mavx2 -mfma, as torch's AVX2 kernels are built) fused a multiply into an add: checked
// against torch's output for 3 seeds x 4 shapes in tests/core/torch_rng_test.cpp. Every product
// that feeds an add here is either inside an explicit std::fma or an FMA's addend, so the compiler's
// own contraction (-ffp-contract, -march) cannot change a bit.
#include "core/torch_rng.h"

#include <bit>
#include <cmath>
#include <numbers>

namespace difu {
namespace {

// ---- mt19937 (Matsumoto & Nishimura, as at::mt19937_engine writes it) -------------------------

constexpr int kShift = 397;  // mt19937's m
constexpr uint32_t kMatrixA = 0x9908b0dfu;
constexpr uint32_t kUpperMask = 0x80000000u;
constexpr uint32_t kLowerMask = 0x7fffffffu;
constexpr uint32_t kSeedMultiplier = 1812433253u;  // init_genrand

uint32_t twist(uint32_t u, uint32_t v) {
    const uint32_t mixed = (u & kUpperMask) | (v & kLowerMask);
    return (mixed >> 1) ^ ((v & 1u) ? kMatrixA : 0u);
}

uint32_t temper(uint32_t y) {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

// ---- uniforms (transformation::uniform_real): keep as many low bits as the mantissa holds -------

constexpr int kFloatBits = 24;   // std::numeric_limits<float>::digits
constexpr int kDoubleBits = 53;  // std::numeric_limits<double>::digits

// ---- avx_mathfun.h's log256_ps / sincos256_ps, one lane -----------------------------------------

constexpr float kSqrtHalf = 0.707106781186547524f;
constexpr float kLogP[] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                           -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
                           2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};
constexpr float kLogQ1 = -2.12194440e-4f;  // ln 2 = q2 + q1, split so e * q2 is exact
constexpr float kLogQ2 = 0.693359375f;
constexpr uint32_t kExponentMask = 0x7f800000u;
constexpr uint32_t kSignMask = 0x80000000u;
constexpr int kMantissaBits = 23;
constexpr int kExponentBias = 127;

// ln(x) for x in [2^-24, 1] (1 - u with u in [0, 1)): the original's clamp of denormals and its NaN
// for x <= 0 never fire there. x = m 2^e, m in [sqrt(1/2), sqrt(2)), ln x = ln m + e ln 2.
float cephes_log(float x) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    float e = static_cast<float>(static_cast<int32_t>(bits >> kMantissaBits) - kExponentBias) + 1.0f;
    const float m = std::bit_cast<float>((bits & ~kExponentMask) | std::bit_cast<uint32_t>(0.5f));
    const bool small = m < kSqrtHalf;                        // m in [0.5, 1): use 2m, e - 1
    e = e - (small ? 1.0f : 0.0f);
    x = (m - 1.0f) + (small ? m : 0.0f);
    const float z = x * x;
    float y = kLogP[0];
    for (int k = 1; k < 9; ++k) y = std::fma(y, x, kLogP[k]);  // Horner, fused by GCC
    y = y * x;
    y = std::fma(y, z, e * kLogQ1);                          // y*z + e*q1: GCC fused the first product
    y = std::fma(-z, 0.5f, y);                               // y - z/2
    x = x + y;
    return std::fma(e, kLogQ2, x);
}

constexpr float kFourOverPi = 1.27323954473516f;
constexpr float kMinusDP1 = -0.78515625f;  // π/4 = DP1 + DP2 + DP3, "extended precision" reduction
constexpr float kMinusDP2 = -2.4187564849853515625e-4f;
constexpr float kMinusDP3 = -3.77489497744594108e-8f;
constexpr float kSinP[] = {-1.9515295891E-4f, 8.3321608736E-3f, -1.6666654611E-1f};
constexpr float kCosP[] = {2.443315711809948E-005f, -1.388731625493765E-003f, 4.166664568298827E-002f};

struct SinCos {
    float sin, cos;
};

float flip_sign(float v, uint32_t sign_bit) { return std::bit_cast<float>(std::bit_cast<uint32_t>(v) ^ sign_bit); }

// sin and cos by Cephes' sinf/cosf: reduce |x| by j π/4 (j even), then one polynomial on
// [-π/4, π/4] for sin and one for cos; bit 1 of j swaps them, bit 2 (and j - 2 for cos) flips signs.
SinCos cephes_sincos(float x) {
    const uint32_t x_sign = std::bit_cast<uint32_t>(x) & kSignMask;
    x = std::fabs(x);
    const int32_t j = (static_cast<int32_t>(x * kFourOverPi) + 1) & ~1;  // truncation, as cvttps2dq
    const float y = static_cast<float>(j);
    const uint32_t sin_sign = x_sign ^ (static_cast<uint32_t>(j & 4) << 29);
    const uint32_t cos_sign = static_cast<uint32_t>(~(j - 2) & 4) << 29;
    const bool sin_poly_is_sin = (j & 2) == 0;
    x = std::fma(y, kMinusDP1, x);
    x = std::fma(y, kMinusDP2, x);
    x = std::fma(y, kMinusDP3, x);
    const float z = x * x;
    const float half_z = z * 0.5f;
    float c = std::fma(kCosP[0], z, kCosP[1]);
    c = std::fma(c, z, kCosP[2]);
    c = c * z;
    c = std::fma(z, c, -half_z) + 1.0f;                      // 1 - z/2 + z^2 P(z)
    float s = std::fma(kSinP[0], z, kSinP[1]);
    s = std::fma(s, z, kSinP[2]);
    s = s * z;
    s = std::fma(x, s, x);                                   // x + x z Q(z)
    // The original selects with bit masks and adds the unselected zero; keep its arithmetic.
    const float sin_from_s = sin_poly_is_sin ? s : 0.0f;
    const float sin_from_c = sin_poly_is_sin ? 0.0f : c;
    const float sin_value = sin_from_c + sin_from_s;
    const float cos_value = (c - sin_from_c) + (s - sin_from_s);
    return {flip_sign(sin_value, sin_sign), flip_sign(cos_value, cos_sign)};
}

// ---- Box–Muller on a block of 16 uniforms (normal_fill_16_AVX2, mean 0, std 1) ------------------

constexpr int kBlock = 16;
constexpr int kHalfBlock = kBlock / 2;
constexpr float kTwoPi = static_cast<float>(2.0 * std::numbers::pi);  // 2.0f * c10::pi<double>
constexpr float kMean = 0.0f;
constexpr float kStd = 1.0f;

void box_muller_16(float* data) {
    for (int j = 0; j < kHalfBlock; ++j) {
        const float u1 = 1.0f - data[j];                     // [0, 1) -> (0, 1] for the log
        const float radius = std::sqrt(-2.0f * cephes_log(u1));
        const SinCos t = cephes_sincos(kTwoPi * data[j + kHalfBlock]);
        data[j] = std::fma(radius * t.cos, kStd, kMean);     // _mm256_fmadd_ps(n, std, mean)
        data[j + kHalfBlock] = std::fma(radius * t.sin, kStd, kMean);
    }
}

}  // namespace

// ---- the generator --------------------------------------------------------------------------------

TorchCpuGenerator::TorchCpuGenerator(uint64_t seed) {
    state_[0] = static_cast<uint32_t>(seed);  // at::mt19937 keeps seed & 0xffffffff
    for (uint32_t j = 1; j < kStateSize; ++j)
        state_[j] = kSeedMultiplier * (state_[j - 1] ^ (state_[j - 1] >> 30)) + j;
    left_ = 1;
    next_ = 0;
}

void TorchCpuGenerator::next_state() {
    for (int k = 0; k < kStateSize; ++k) {
        const int k1 = (k + 1) % kStateSize;
        state_[k] = state_[(k + kShift) % kStateSize] ^ twist(state_[k], state_[k1]);
    }
    left_ = kStateSize;
    next_ = 0;
}

uint32_t TorchCpuGenerator::random() {
    if (--left_ == 0) next_state();
    return temper(state_[next_++]);
}

uint64_t TorchCpuGenerator::random64() {
    const uint64_t hi = random();
    const uint64_t lo = random();
    return (hi << 32) | lo;
}

double TorchCpuGenerator::next_double() {
    constexpr uint64_t mask = (uint64_t{1} << kDoubleBits) - 1;
    return static_cast<double>(random64() & mask) * (1.0 / static_cast<double>(uint64_t{1} << kDoubleBits));
}

float TorchCpuGenerator::next_float() {
    constexpr uint32_t mask = (uint32_t{1} << kFloatBits) - 1;
    return static_cast<float>(random() & mask) * (1.0f / static_cast<float>(uint32_t{1} << kFloatBits));
}

// Box–Muller in double: return r cos θ now, keep r sin θ for the next call (even a later randn).
double TorchCpuGenerator::next_double_normal() {
    if (next_double_normal_sample_) {
        const double cached = *next_double_normal_sample_;
        next_double_normal_sample_.reset();
        return cached;
    }
    const double u1 = next_double();
    const double u2 = next_double();
    const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
    const double theta = 2.0 * std::numbers::pi * u1;
    next_double_normal_sample_ = r * std::sin(theta);
    return r * std::cos(theta);
}

void TorchCpuGenerator::normal_fill(std::span<float> out) {
    const size_t n = out.size();
    for (float& v : out) v = next_float();
    for (size_t i = 0; i + kBlock <= n; i += kBlock) box_muller_16(out.data() + i);
    if (n % kBlock != 0) {  // recompute the last 16 values from fresh uniforms
        float* tail = out.data() + n - kBlock;
        for (int i = 0; i < kBlock; ++i) tail[i] = next_float();
        box_muller_16(tail);
    }
}

void TorchCpuGenerator::randn(std::span<float> out) {
    if (out.size() >= static_cast<size_t>(kBlock)) return normal_fill(out);
    for (float& v : out) v = static_cast<float>(next_double_normal());
}

Tensor TorchCpuGenerator::randn(const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    randn(t.f32_mut());
    return t;
}

}  // namespace difu
