// tests/core/torch_rng_test.cpp — TorchCpuGenerator against torch 1.13 itself: the fixture's
// torch.randn(shape, generator=torch.Generator().manual_seed(seed)) tensors must come out bit for bit
// (both paths: [7] is the double Box–Muller, the rest the AVX2 block fill with its odd-size tail).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "core/torch_rng.h"
#include "io/checkpoint.h"
#include "test_support.h"

namespace difu {
namespace {

std::vector<float> randn(TorchCpuGenerator& g, size_t n) {
    std::vector<float> v(n);
    g.randn(v);
    return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

nlohmann::json rng_cases() {
    std::ifstream in(test::fixture_path("sd1-tiny/cases.json"));
    EXPECT_TRUE(in) << "missing fixture " << test::fixture_path("sd1-tiny/cases.json");
    const nlohmann::json all = nlohmann::json::parse(in);
    for (const auto& c : all.at("cases"))
        if (c.at("id") == "torch_cpu_rng") return c.at("tensors");
    ADD_FAILURE() << "cases.json has no torch_cpu_rng case";
    return nlohmann::json::array();
}

TEST(TorchRng, MatchesTorchForEveryFixtureSeedAndShape) {
    const Checkpoint ref = load_checkpoint(test::fixture_path("sd1-tiny/ref.safetensors"));
    const nlohmann::json cases = rng_cases();
    ASSERT_EQ(cases.size(), 12u);  // seeds {0, 42, 2^32 + 5} x shapes {[7], [16], [1,4,8,8], [1,4,64,64]}
    for (const auto& c : cases) {
        const std::string name = c.at("tensor");
        const Shape shape = c.at("shape").get<Shape>();
        const Tensor& expected = ref.get(name, shape);
        TorchCpuGenerator g(c.at("seed").get<uint64_t>());
        const Tensor got = g.randn(shape);
        ASSERT_EQ(got.shape(), shape);
        size_t differing = 0;
        for (size_t i = 0; i < expected.f32().size(); ++i) differing += !same_bits(got.f32()[i], expected.f32()[i]);
        EXPECT_EQ(differing, 0u) << name << ": max |diff| " << test::max_abs_diff(got, expected);
    }
}

TEST(TorchRng, SeedUsesLow32Bits) {
    constexpr uint64_t kHighBitsOnly = uint64_t{1} << 32;
    TorchCpuGenerator wide(kHighBitsOnly + 5), narrow(5);
    for (size_t n : {7, 256}) {  // both randn paths
        const std::vector<float> a = randn(wide, n), b = randn(narrow, n);
        EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0) << "n = " << n;
    }
}

// at::mt19937 is the reference mt19937 (init_genrand seeding); the 2000 draws cross three twists.
TEST(TorchRng, RandomIsStdMt19937) {
    for (uint32_t seed : {0u, 42u, 5489u}) {
        TorchCpuGenerator g(seed);
        std::mt19937 reference(seed);
        for (int i = 0; i < 2000; ++i) ASSERT_EQ(g.random(), reference()) << "seed " << seed << " draw " << i;
    }
}

TEST(TorchRng, UniformsKeepTheLowMantissaBits) {
    TorchCpuGenerator g(42), words(42);
    for (int i = 0; i < 100; ++i) {
        const float f = g.next_float();
        EXPECT_EQ(f, static_cast<float>(words.random() & 0xffffff) / 16777216.0f);
        const double d = g.next_double();
        EXPECT_EQ(d, static_cast<double>(words.random64() & ((uint64_t{1} << 53) - 1)) / 9007199254740992.0);
        EXPECT_TRUE(f >= 0 && f < 1 && d >= 0 && d < 1);
    }
}

// Torch's algorithm implies these equalities: the block fill draws one uniform per value and transforms
// whole blocks of 16, so 16 + 16 values are one fill of 32; the scalar path draws pairs and keeps the
// second half in the generator, so 7 + 7 values are one call of 14.
TEST(TorchRng, ConsecutiveCallsContinueTheStream) {
    for (auto [first, second] : {std::pair<size_t, size_t>{16, 16}, {7, 7}, {32, 48}}) {
        TorchCpuGenerator split(1234), whole(1234);
        std::vector<float> a = randn(split, first);
        const std::vector<float> b = randn(split, second);
        a.insert(a.end(), b.begin(), b.end());
        const std::vector<float> c = randn(whole, first + second);
        EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)), 0) << first << " + " << second;
    }
}

// The cached sine half survives a block fill in between, as torch's next_double_normal_sample does:
// randn(7); randn(16); randn(1) returns the 8th value of a single randn(8).
TEST(TorchRng, CachedNormalSurvivesABlockFill) {
    TorchCpuGenerator interleaved(7), single(7);
    randn(interleaved, 7);
    randn(interleaved, 16);
    const float cached = randn(interleaved, 1)[0];
    EXPECT_TRUE(same_bits(cached, randn(single, 8)[7]));
}

// 17 values: 17 uniforms, block [0, 16) transformed, then [1, 17) refilled from 16 fresh uniforms and
// transformed again: only value 0 keeps the first block's result, and 17 + 16 draws are used.
TEST(TorchRng, OddSizesRedrawTheLastBlock) {
    TorchCpuGenerator odd(3), even(3), words(3);
    const std::vector<float> a = randn(odd, 17), b = randn(even, 16);
    EXPECT_TRUE(same_bits(a[0], b[0]));
    EXPECT_FALSE(same_bits(a[1], b[1]));
    for (int i = 0; i < 17 + 16; ++i) words.random();
    EXPECT_EQ(odd.random(), words.random());
}

TEST(TorchRng, LooksStandardNormal) {
    TorchCpuGenerator g(0);
    const std::vector<float> v = randn(g, 1 << 16);
    double sum = 0, sum_sq = 0;
    for (float x : v) {
        ASSERT_TRUE(std::isfinite(x));
        sum += x;
        sum_sq += double(x) * x;
    }
    const double mean = sum / v.size(), var = sum_sq / v.size() - mean * mean;
    EXPECT_NEAR(mean, 0.0, 0.02);  // 5 sigma of the sample mean is 0.02 for 65536 values
    EXPECT_NEAR(var, 1.0, 0.03);
}

}  // namespace
}  // namespace difu
