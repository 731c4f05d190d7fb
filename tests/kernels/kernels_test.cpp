// tests/kernels/kernels_test.cpp — every fast kernel against its plain reference twin
// (kernels/reference.cpp, double accumulation) on random data of odd shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"
#include "kernels/linear.h"
#include "kernels/reference.h"
#include "kernels/vec_math.h"

using namespace difu;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

}  // namespace

TEST(Kernels, LinearMatchesReferenceOnOddShapes) {
    for (auto [rows, in, out] : {std::array<int64_t, 3>{1, 7, 5}, {77, 128, 512}, {13, 33, 65}, {154, 768, 768}}) {
        auto x = random_vector(rows * in, 1), w = random_vector(out * in, 2, 0.1f), b = random_vector(out, 3);
        Linear lin(Tensor::from_f32({out, in}, w), Tensor::from_f32({out}, b));
        std::vector<float> y(rows * out), yr(rows * out);
        lin.forward(x.data(), rows, y.data());
        ref::linear(x.data(), w.data(), b.data(), yr.data(), rows, in, out);
        // fp32 sums of `in` products of size ~0.1: rounding grows like sqrt(in) * 6e-8 * |y|.
        EXPECT_LT(max_diff(y, yr), 2e-5f * std::sqrt(float(in))) << rows << "x" << in << "x" << out;
    }
}

TEST(Kernels, LinearWithoutBiasAndStridedRows) {
    const int64_t rows = 9, in = 20, out = 6, ldx = 31, ldy = 11;
    auto x = random_vector(rows * ldx, 4), w = random_vector(out * in, 5);
    Linear lin(Tensor::from_f32({out, in}, w), Tensor());
    std::vector<float> y(rows * ldy, -7.0f);
    lin.forward(x.data(), rows, y.data(), ldx, ldy);
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> yr(out);
        ref::linear(x.data() + r * ldx, w.data(), nullptr, yr.data(), 1, in, out);
        for (int64_t o = 0; o < out; ++o) EXPECT_NEAR(y[r * ldy + o], yr[o], 1e-5f);
        for (int64_t o = out; o < ldy; ++o) EXPECT_EQ(y[r * ldy + o], -7.0f);  // padding untouched
    }
}

TEST(Kernels, LayerNormMatchesReference) {
    for (auto [rows, n] : {std::array<int64_t, 2>{1, 1}, {3, 17}, {154, 768}, {5, 1280}}) {
        auto x = random_vector(rows * n, 6, 3.0f), g = random_vector(n, 7), b = random_vector(n, 8);
        for (auto& v : x) v += 10.0f;  // an offset makes the naive one-pass variance visibly wrong
        std::vector<float> y(x.size()), yr(x.size());
        layer_norm(x.data(), y.data(), rows, n, g.data(), b.data());
        ref::layer_norm(x.data(), yr.data(), rows, n, g.data(), b.data(), kLayerNormEps);
        EXPECT_LT(max_diff(y, yr), 5e-6f) << rows << "x" << n;
    }
}

TEST(Kernels, ActivationsMatchReference) {
    auto x = random_vector(1001, 9, 4.0f);
    for (auto [fast, slow] : {std::pair{&quick_gelu, &ref::quick_gelu}, {&gelu, &ref::gelu}, {&silu, &ref::silu}}) {
        auto a = x, b = x;
        fast(a.data(), static_cast<int64_t>(a.size()));
        slow(b.data(), static_cast<int64_t>(b.size()));
        EXPECT_LT(max_diff(a, b), 2e-6f);  // a few ulp of |x| <= 16
    }
}

// One attention problem: random q, k (|.| ~ 2) and v (~ 1) in rows of heads * dim + pad floats, and
// the double-precision reference output.
struct AttentionCase {
    int64_t batch, heads, q_len, kv_len, dim;
    bool causal;
    int64_t pad;
};

struct AttentionProblem {
    AttentionShape s;
    std::vector<float> q, k, v, expected;
    float scale;
    explicit AttentionProblem(const AttentionCase& c, uint32_t seed) {
        s.batch = c.batch;
        s.heads = c.heads;
        s.q_len = c.q_len;
        s.kv_len = c.kv_len;
        s.head_dim = c.dim;
        s.causal = c.causal;
        s.q_stride = s.k_stride = s.v_stride = s.out_stride = c.heads * c.dim + c.pad;
        const int64_t w = s.q_stride;
        q = random_vector(c.batch * c.q_len * w, seed, 2.0f);
        k = random_vector(c.batch * c.kv_len * w, seed + 1, 2.0f);
        v = random_vector(c.batch * c.kv_len * w, seed + 2);
        expected.assign(q.size(), 0.0f);
        scale = 1.0f / std::sqrt(float(c.dim));
        ref::attention(q.data(), k.data(), v.data(), expected.data(), s, scale);
    }
    std::vector<float> run(Precision p) const {
        std::vector<float> o(q.size(), 0.0f);
        attention(q.data(), k.data(), v.data(), o.data(), s, scale, p);
        return o;
    }
};

// Shapes of SD's UNet (head_dim 40/80/160 over 77 text tokens), CLIP (causal, 64), the VAE (one head
// of 512) and odd lengths that end key and query tiles part way.
const AttentionCase kAttentionCases[] = {
    {1, 1, 1, 1, 8, false, 0},     {2, 2, 77, 77, 64, true, 0},   {1, 3, 37, 100, 40, false, 5},
    {2, 8, 64, 77, 40, false, 0},  {1, 2, 130, 130, 24, true, 3}, {1, 1, 70, 70, 512, false, 0},
    {1, 2, 33, 200, 160, false, 0}, {2, 4, 256, 256, 80, false, 0}, {1, 2, 17, 9, 2, false, 1}};

TEST(Kernels, AttentionMatchesReference) {
    for (const AttentionCase& c : kAttentionCases) {
        const AttentionProblem t(c, 10);
        // Both the run-time-dispatched path (AVX-512 where the CPU has it) and the portable one.
        // Softmax weights sum to 1, |v| ~ 1: errors stay at fp32 rounding of the dot products (~1e-6 rel)
        // plus the vector exp's few ulp.
        EXPECT_LT(max_diff(t.run(Precision::FP32), t.expected), 2e-5f)
            << c.q_len << "x" << c.kv_len << "x" << c.dim << " causal=" << c.causal;
        std::vector<float> o(t.q.size(), 0.0f);
        attention_portable(t.q.data(), t.k.data(), t.v.data(), o.data(), t.s, t.scale);
        EXPECT_LT(max_diff(o, t.expected), 2e-5f) << "portable " << c.q_len << "x" << c.kv_len << " causal=" << c.causal;
    }
}

TEST(Kernels, AttentionBf16MatchesReferenceWithinBf16Rounding) {
    for (const AttentionCase& c : kAttentionCases) {
        const AttentionProblem t(c, 20);
        const std::vector<float> o = t.run(Precision::BF16);
        // q, k, v and the probabilities are rounded to bf16 (relative 2^-9 each). Here the scores have
        // a spread of ~4 (|q|, |k| ~ 2), so a score's error is ~4 * 2^-9 * sqrt(2) ~ 0.011 (1 sigma),
        // which moves each softmax weight by that fraction; the output, a weighted mean of |v| ~ 1
        // (max ~4), moves by a few times that. 0.06 is ~5 sigma of the worst element.
        EXPECT_LT(max_diff(o, t.expected), 0.06f) << c.q_len << "x" << c.kv_len << "x" << c.dim << " causal=" << c.causal;
        // The padding columns between rows are never written.
        const int64_t w = t.s.q_stride;
        for (int64_t r = 0; r < c.batch * c.q_len && c.pad > 0; ++r) EXPECT_EQ(o[r * w + w - 1], 0.0f);
    }
}

TEST(Kernels, VectorMathMatchesLibm) {
    double worst_exp = 0, worst_erf = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        const double e = std::exp(static_cast<double>(x));
        worst_exp = std::max(worst_exp, std::fabs(vec::exp(x) - e) / e);
    }
    for (float x = -6.0f; x <= 6.0f; x += 0.001f) worst_erf = std::max(worst_erf, std::fabs(vec::erf(x) - std::erf(double(x))));
    EXPECT_LT(worst_exp, 3e-7);  // ~2.5 ulp of float
    EXPECT_LT(worst_erf, 5e-7);  // Abramowitz & Stegun 7.1.26 bound (1.5e-7) plus its evaluation in float
}
