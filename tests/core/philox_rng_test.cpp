// tests/core/philox_rng_test.cpp — webui's NV random source against rng_philox.py's own numbers
// (fixture rng-philox): raw Philox words bit for bit, normals within the fixture's 1e-6 (libm ulps).
#include <gtest/gtest.h>

#include "core/philox_rng.h"
#include "io/checkpoint.h"
#include "test_support.h"

using namespace difu;

namespace {
const Checkpoint& ref() {
    static const Checkpoint ck = load_checkpoint(test::fixture_path("rng-philox/ref.safetensors"));
    return ck;
}
constexpr double kBoxMullerTolerance = 1e-6;  // cases.json "tolerance": float32 Box-Muller, 1-2 ulp of libm
}  // namespace

TEST(Philox, RawWordsAreBitExact) {
    const Tensor w0 = ref().get("philox.seed42.raw_u32_word0"), w1 = ref().get("philox.seed42.raw_u32_word1");
    ASSERT_EQ(w0.numel(), 256);
    for (int64_t i = 0; i < 256; ++i) {
        const auto x = philox4x32_10({0u, 0u, static_cast<uint32_t>(i), 0u}, {42u, 0u});
        EXPECT_EQ(static_cast<int64_t>(x[0]), w0.data<int64_t>()[i]) << i;
        EXPECT_EQ(static_cast<int64_t>(x[1]), w1.data<int64_t>()[i]) << i;
    }
}

TEST(Philox, NormalsMatchRngPhiloxForEverySeedAndShape) {
    for (uint64_t seed : {0ull, 42ull, 4294967301ull, 123456789ull, 5ull})
        for (const Shape& shape : {Shape{4, 8, 8}, Shape{4, 64, 64}, Shape{1, 4, 8, 8}}) {
            const std::string key = "philox.seed" + std::to_string(seed) + "." + (shape.size() == 4 ? "1x" : "") +
                                    std::to_string(shape[shape.size() - 3]) + "x" + std::to_string(shape[shape.size() - 2]) +
                                    "x" + std::to_string(shape.back());
            if (!ref().has(key)) continue;  // seed 5 has only 4x8x8
            EXPECT_LE(test::max_abs_diff(PhiloxGenerator(seed).randn(shape), ref().get(key)), kBoxMullerTolerance) << key;
        }
    EXPECT_LE(test::max_abs_diff(PhiloxGenerator(0).randn({3, 4}), ref().get("philox.seed0.3x4")), kBoxMullerTolerance);
    // seed 2^32 + 5 is not seed 5: the key is the whole 64-bit seed
    EXPECT_GT(test::max_abs_diff(PhiloxGenerator(4294967301ull).randn({4, 8, 8}), ref().get("philox.seed5.4x8x8")), 1.0);
}

TEST(Philox, EachCallMovesToTheNextOffset) {
    PhiloxGenerator g(42);
    EXPECT_LE(test::max_abs_diff(g.randn({4, 8, 8}), ref().get("philox.seed42.4x8x8")), kBoxMullerTolerance);
    EXPECT_LE(test::max_abs_diff(g.randn({4, 8, 8}), ref().get("philox.seed42.second_call.4x8x8")), kBoxMullerTolerance);
    EXPECT_EQ(g.offset(), 2u);
}
