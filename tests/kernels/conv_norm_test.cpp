// tests/kernels/conv_norm_test.cpp — oneDNN conv2d and the group norm / resample kernels against
// their reference twins on odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/arena.h"
#include "kernels/conv2d.h"
#include "kernels/group_norm.h"
#include "kernels/reference.h"
#include "kernels/resample.h"

using namespace difu;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f, float offset = 0.0f) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(offset, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

float max_diff(const float* a, const float* b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

}  // namespace

TEST(Kernels, Conv2dMatchesReference) {
    struct Case { int64_t n, h, w, cin, cout, k; ConvGeometry geo; };
    const std::vector<Case> cases = {
        {1, 7, 5, 3, 8, 3, ConvGeometry::same(3)},       // odd sizes, few channels
        {2, 16, 16, 32, 32, 3, ConvGeometry::same(3)},   // UNet-like
        {1, 9, 13, 24, 40, 1, ConvGeometry::same(1)},    // 1x1 (skip connections, proj_in)
        {2, 15, 16, 16, 16, 3, {2, {1, 1, 1, 1}}},       // UNet Downsample
        {1, 16, 10, 8, 8, 3, {2, {0, 0, 1, 1}}},         // VAE Downsample: pad right/bottom only
    };
    Arena arena;
    for (const auto& c : cases) {
        auto w = random_vector(c.cout * c.cin * c.k * c.k, 1, 1.0f / std::sqrt(float(c.cin * c.k * c.k)));
        auto b = random_vector(c.cout, 2, 0.1f);
        auto x = random_vector(c.n * c.h * c.w * c.cin, 3);
        Conv2d conv(Tensor::from_f32({c.cout, c.cin, c.k, c.k}, w), Tensor::from_f32({c.cout}, b), c.geo);
        Tensor y = conv.forward(Tensor::from_f32({c.n, c.h, c.w, c.cin}, x), arena);
        const int64_t oh = conv.out_size(c.h, 0), ow = conv.out_size(c.w, 1);
        ASSERT_EQ(y.shape(), (Shape{c.n, oh, ow, c.cout}));
        std::vector<float> yr(y.numel());
        ref::conv2d(x.data(), w.data(), b.data(), yr.data(), c.n, c.h, c.w, c.cin, c.cout, c.k, c.k, c.geo.stride,
                    c.geo.pad[0], c.geo.pad[1], oh, ow);
        // fp32 sums of cin*k*k terms of size ~1/sqrt(fan_in): error ~ sqrt(fan_in) ulp.
        EXPECT_LT(max_diff(y.data<float>(), yr.data(), yr.size()), 1e-5f) << c.h << "x" << c.w << " k" << c.k;
        // The second call reuses the cached plan and reordered weights: same bits.
        Tensor y2 = conv.forward(Tensor::from_f32({c.n, c.h, c.w, c.cin}, x), arena);
        EXPECT_EQ(max_diff(y.data<float>(), y2.data<float>(), yr.size()), 0.0f);
    }
}

TEST(Kernels, GroupNormMatchesReference) {
    for (auto [n, hw, c, silu] : {std::tuple{1, 35, 32, false}, {2, 256, 64, true}, {1, 3, 96, true}, {2, 1024, 320, false}}) {
        auto x = random_vector(n * hw * c, 4, 2.0f, 5.0f);  // offset: a one-pass variance would be visibly off
        auto g = random_vector(c, 5, 0.2f, 1.0f), b = random_vector(c, 6, 0.1f);
        std::vector<float> y(x.size()), yr(x.size());
        group_norm(x.data(), y.data(), n, hw, c, kGroupNormGroups, g.data(), b.data(), kUNetGroupNormEps, silu);
        ref::group_norm(x.data(), yr.data(), n, hw, c, kGroupNormGroups, g.data(), b.data(), kUNetGroupNormEps, silu);
        EXPECT_LT(max_diff(y.data(), yr.data(), y.size()), 5e-6f) << hw << "x" << c;
    }
}

TEST(Kernels, UpsampleAndLayoutHelpers) {
    const int64_t n = 2, h = 3, w = 5, c = 7;
    auto x = random_vector(n * h * w * c, 7);
    std::vector<float> up(n * 4 * h * w * c);
    upsample_nearest2x(x.data(), up.data(), n, h, w, c);
    for (int64_t s = 0; s < n; ++s)
        for (int64_t y = 0; y < 2 * h; ++y)
            for (int64_t xx = 0; xx < 2 * w; ++xx)
                for (int64_t ch = 0; ch < c; ++ch)
                    ASSERT_EQ(up[((s * 2 * h + y) * 2 * w + xx) * c + ch], x[((s * h + y / 2) * w + xx / 2) * c + ch]);
    std::vector<float> nchw(x.size()), back(x.size());
    nhwc_to_nchw(x.data(), nchw.data(), n, c, h, w);
    EXPECT_EQ(nchw[((1 * c + 4) * h + 2) * w + 3], x[((1 * h + 2) * w + 3) * c + 4]);
    nchw_to_nhwc(nchw.data(), back.data(), n, c, h, w);
    EXPECT_EQ(max_diff(back.data(), x.data(), x.size()), 0.0f);
    std::vector<float> a{1, 2, 3, 4}, b{9, 8}, cat(6);
    concat_channels(a.data(), 2, b.data(), 1, cat.data(), 2);
    EXPECT_EQ(cat, (std::vector<float>{1, 2, 9, 3, 4, 8}));
}
