#include "core/philox_rng.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace difu {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // key increments (Weyl sequence)
constexpr int kPhiloxRounds = 10;
constexpr float kTwoPow32Inv = 2.3283064e-10f;                          // 2^-32 as rng_philox.py writes it
constexpr float kTwoPow32Inv2Pi = static_cast<float>(2.3283064e-10 * 6.2831855);

// rng_philox.box_muller. Its constants are float32 arrays, but x, y are uint32 arrays, and numpy promotes
// uint32 x float32 to float64: the arithmetic runs in double, only the result is float32.
float box_muller(uint32_t x0, uint32_t x1) {
    const double c = kTwoPow32Inv, c2pi = kTwoPow32Inv2Pi;  // the float32-rounded constants
    const double u = static_cast<double>(x0) * c + c / 2.0;
    const double v = static_cast<double>(x1) * c2pi + c2pi / 2.0;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u)) * std::sin(v));
}

}  // namespace

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
    for (int round = 0; round < kPhiloxRounds; ++round) {
        const uint64_t v1 = static_cast<uint64_t>(c[0]) * kPhiloxM0, v2 = static_cast<uint64_t>(c[2]) * kPhiloxM1;
        c = {static_cast<uint32_t>(v2 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(v2),
             static_cast<uint32_t>(v1 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(v1)};
        if (round + 1 < kPhiloxRounds) {
            k[0] += kPhiloxW0;
            k[1] += kPhiloxW1;
        }
    }
    return c;
}

Tensor PhiloxGenerator::randn(const Shape& shape) {
    const int64_t n = shape_numel(shape);
    // The element index is counter word 2: one call draws at most 2^32 numbers (rng_philox.py's limit).
    if (n > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
        throw Error::make("philox randn of {} numbers: at most 2^32 per call", n);
    Tensor out = Tensor::empty(shape);
    float* o = out.mutable_data<float>();
    const std::array<uint32_t, 2> key{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)};
    const uint32_t offset = static_cast<uint32_t>(offset_);
#pragma omp parallel for schedule(static) if (n > 4096)
    for (int64_t i = 0; i < n; ++i) {
        const auto x = philox4x32_10({offset, 0u, static_cast<uint32_t>(i), 0u}, key);
        o[i] = box_muller(x[0], x[1]);
    }
    ++offset_;
    return out;
}

}  // namespace difu
