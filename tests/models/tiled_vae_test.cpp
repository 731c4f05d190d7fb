// tests/models/tiled_vae_test.cpp — the VAE in tiles (models/vae/tiled_vae.h) against the same VAE
// untiled, on the sd1-tiny fixture's VAE (ch 32, four levels: a downscale of 8 as SD's).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/torch_rng.h"
#include "io/checkpoint.h"
#include "models/vae/tiled_vae.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {

struct TinyVae {
    Checkpoint model = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    AutoencoderKL vae{model, detect_model(model)};
};
TinyVae& tiny() {
    static TinyVae f;
    return f;
}

Tensor gaussian(Shape shape, uint64_t seed, float scale) {
    TorchCpuGenerator g(seed);
    Tensor t = g.randn(shape);
    for (float& v : t.f32_mut()) v *= scale;
    return t;
}

// Root-mean-square difference, in the decoder's [-1, 1] units.
double rms_diff(const Tensor& a, const Tensor& b) {
    double s = 0;
    for (int64_t i = 0; i < a.numel(); ++i) s += std::pow(a.f32()[i] - b.f32()[i], 2);
    return std::sqrt(s / static_cast<double>(a.numel()));
}

}  // namespace

TEST(TiledVae, SpansCoverTheAxisWithTheOverlapAndCoresPartitionIt) {
    for (int64_t length : {1, 16, 17, 40, 64, 100, 256}) {
        const auto spans = tile_spans(length, 16, 6);
        ASSERT_FALSE(spans.empty());
        EXPECT_EQ(spans.front().start, 0);
        EXPECT_EQ(spans.back().end, length);
        EXPECT_EQ(spans.front().core_begin, 0);
        EXPECT_EQ(spans.back().core_end, length);
        for (size_t i = 0; i < spans.size(); ++i) {
            EXPECT_LE(spans[i].end - spans[i].start, 16);
            EXPECT_LE(spans[i].start, spans[i].core_begin);
            EXPECT_LT(spans[i].core_begin, spans[i].core_end);
            EXPECT_LE(spans[i].core_end, spans[i].end);
            if (i > 0) {
                EXPECT_GE(spans[i - 1].end - spans[i].start, 6) << "length " << length << " tile " << i;
                EXPECT_EQ(spans[i - 1].core_end, spans[i].core_begin);
            }
        }
    }
    EXPECT_THROW(tile_spans(10, 8, 8), Error);
}

// Geometry and blending alone: a per-pixel map (nearest 8x upscale times 2) cut into tiles gives the
// untiled result up to the blend's float rounding, for any layout.
TEST(TiledVae, BlendingReassemblesAPerPixelMap) {
    Arena a;
    const Tensor x = gaussian({2, 3, 37, 29}, 5, 1.0f);
    const auto up8 = [](const Tensor& t) {
        Tensor y = Tensor::empty({t.dim(0), t.dim(1), t.dim(2) * 8, t.dim(3) * 8});
        const auto src = t.f32();
        const auto dst = y.f32_mut();
        for (int64_t b = 0; b < t.dim(0) * t.dim(1); ++b)
            for (int64_t i = 0; i < y.dim(2); ++i)
                for (int64_t j = 0; j < y.dim(3); ++j)
                    dst[(b * y.dim(2) + i) * y.dim(3) + j] = 2.0f * src[(b * t.dim(2) + i / 8) * t.dim(3) + j / 8];
        return y;
    };
    const Tensor whole = up8(x);
    for (const VaeTiling t : {VaeTiling{8, 2}, VaeTiling{16, 6}, VaeTiling{40, 8}, VaeTiling{12, 11}}) {
        const Tensor tiled = run_in_tiles(x, 37, 29, 1, 8, t, a, up8);
        ASSERT_EQ(tiled.shape(), whole.shape());
        EXPECT_LT(max_abs_diff(tiled, whole), 1e-5) << "tile " << t.tile << " overlap " << t.overlap;
    }
    EXPECT_THROW(run_in_tiles(x, 36, 29, 1, 8, {8, 2}, a, up8), Error);
}

TEST(TiledVae, OneTileIsTheUntiledDecoderExactly) {
    auto& f = tiny();
    Arena a;
    const Tensor z = gaussian({1, 4, 12, 10}, 1, 1.0f);
    EXPECT_EQ(max_abs_diff(decode_tiled(f.vae, z, {16, 4}, a), f.vae.decode(z, a)), 0.0);
    const Tensor x = gaussian({1, 3, 96, 80}, 2, 0.5f);
    EXPECT_EQ(max_abs_diff(encode_tiled(f.vae, x, {16, 4}, a).mean, f.vae.encode(x, a).mean), 0.0);
}

// The figure the issue asks for: tiled against untiled decoding of a 40x40 latent (320x320 pixels).
// The fixture's random weights reach across the whole tile (nothing decays as in a trained VAE), so
// the error is large and only its trend is asserted: more overlap, less error.
TEST(TiledVae, DecodeErrorAgainstUntiledFallsWithTheOverlap) {
    auto& f = tiny();
    Arena a;
    const Tensor z = gaussian({1, 4, 40, 40}, 7, 1.0f);
    const Tensor whole = f.vae.decode(z, a);
    double previous = 1e9;
    for (const int64_t overlap : {4, 8, 12}) {
        const Tensor tiled = decode_tiled(f.vae, z, {16, overlap}, a);
        ASSERT_EQ(tiled.shape(), whole.shape());
        const double rms = rms_diff(tiled, whole);
        std::printf("tiled decode vs untiled, sd1-tiny VAE, 16-latent tiles overlapping %ld: max %.4f rms %.4f\n",
                    static_cast<long>(overlap), max_abs_diff(tiled, whole), rms);
        EXPECT_LT(rms, previous);
        previous = rms;
    }
}

TEST(TiledVae, EncodeLaysTheSameTiles) {
    auto& f = tiny();
    Arena a;
    const Tensor x = gaussian({1, 3, 320, 384}, 3, 0.5f);
    const Posterior whole = f.vae.encode(x, a);
    const Posterior tiled = encode_tiled(f.vae, x, {16, 8}, a);
    ASSERT_EQ(tiled.mean.shape(), whole.mean.shape());
    ASSERT_EQ(tiled.logvar.shape(), whole.logvar.shape());
    std::printf("tiled encode vs untiled, sd1-tiny VAE: mean max %.4f rms %.4f\n", max_abs_diff(tiled.mean, whole.mean),
                rms_diff(tiled.mean, whole.mean));
    EXPECT_LT(rms_diff(tiled.mean, whole.mean), rms_diff(whole.mean, Tensor::empty(whole.mean.shape())));
}
