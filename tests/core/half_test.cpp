// tests/core/half_test.cpp — f16/bf16 conversions: vector paths equal the scalar reference, and the
// scalar reference rounds like torch (round-to-nearest-even).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/half.h"

using namespace difu;

TEST(Half, F16RoundTripsEveryFiniteValue) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const uint16_t v = static_cast<uint16_t>(h);
        const float f = f16_to_f32(v);
        if (std::isnan(f)) continue;
        EXPECT_EQ(f32_to_f16(f), v) << std::hex << h;
    }
}

TEST(Half, F16KnownValues) {
    EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                 // rounds up to inf
    EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
    EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
    EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Half, Bf16RoundsToNearestEven) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    uint32_t tie = 0x3f808000u, above = 0x3f808001u;
    float ft, fa;
    std::memcpy(&ft, &tie, 4);
    std::memcpy(&fa, &above, 4);
    EXPECT_EQ(f32_to_bf16(ft), 0x3f80);
    EXPECT_EQ(f32_to_bf16(fa), 0x3f81);
}

TEST(Half, VectorConversionsEqualScalar) {
    std::vector<uint16_t> h(0x10000);
    for (uint32_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i);
    std::vector<float> f(h.size());
    convert_f16_to_f32(h, f);
    for (size_t i = 0; i < h.size(); ++i) {
        float r = f16_to_f32(h[i]);
        if (std::isnan(r)) { EXPECT_TRUE(std::isnan(f[i])); continue; }
        ASSERT_EQ(f[i], r) << i;
    }
    convert_bf16_to_f32(h, f);
    for (size_t i = 0; i < h.size(); ++i) {
        float r = bf16_to_f32(h[i]);
        if (std::isnan(r)) continue;
        ASSERT_EQ(f[i], r) << i;
    }
    std::vector<float> x(1003);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) * std::pow(10.0f, (int(i) % 13) - 6);
    std::vector<uint16_t> out(x.size());
    convert_f32_to_f16(x, out);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(out[i], f32_to_f16(x[i])) << x[i];
}
