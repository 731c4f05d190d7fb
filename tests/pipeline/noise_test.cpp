// tests/pipeline/noise_test.cpp — the batch noise as webui draws it (fixture rng-philox's ImageRNG cases:
// per-image generators, later draws, variation seeds with webui's slerp) and as the pipeline uses it.
#include <gtest/gtest.h>

#include "io/checkpoint.h"
#include "io/png_info.h"
#include "pipeline/noise.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;

namespace {
const Checkpoint& ref() {
    static const Checkpoint ck = load_checkpoint(test::fixture_path("rng-philox/ref.safetensors"));
    return ck;
}
// cases.json: 1e-6 for the float Box-Muller; the slerp's own float64-vs-float32 difference is 3.1e-7.
constexpr double kNoiseTolerance = 1e-6;
}  // namespace

TEST(BatchNoise, GpuSourceDrawsPerImageGeneratorsAsWebuisImageRng) {
    BatchNoise two(RngSource::Gpu, 42, {2, 4, 8, 8}, Variation{});
    EXPECT_LE(test::max_abs_diff(two.first(), ref().get("imagerng.batch_seeds42_43.first")), kNoiseTolerance);
    BatchNoise one(RngSource::Gpu, 42, {1, 4, 8, 8}, Variation{});
    EXPECT_LE(test::max_abs_diff(one.first(), ref().get("imagerng.seed42.first")), kNoiseTolerance);
    EXPECT_LE(test::max_abs_diff(one.next(), ref().get("imagerng.seed42.second")), kNoiseTolerance);
}

TEST(BatchNoise, VariationSeedSlerpsAsWebui) {
    const Tensor noise = ref().get("imagerng.subseed.noise"), sub = ref().get("imagerng.subseed.subnoise");
    const Tensor want = ref().get("imagerng.subseed.seed42_sub123456789_s0.3");
    EXPECT_LE(test::max_abs_diff(webui_slerp(0.3f, noise, sub).reshape({1, 4, 8, 8}), want), kNoiseTolerance);
    BatchNoise varied(RngSource::Gpu, 42, {1, 4, 8, 8}, Variation{123456789, 0.3f});
    EXPECT_LE(test::max_abs_diff(varied.first(), want), kNoiseTolerance);
    // strength 0 is the seed's noise; the CPU source keeps its own stream (ComfyUI's whole-batch draw)
    BatchNoise none(RngSource::Gpu, 42, {1, 4, 8, 8}, Variation{123456789, 0.0f});
    EXPECT_LE(test::max_abs_diff(none.first(), ref().get("imagerng.seed42.first")), kNoiseTolerance);
    BatchNoise cpu(RngSource::Cpu, 42, {1, 4, 8, 8}, Variation{});
    EXPECT_EQ(test::max_abs_diff(cpu.first(), TorchCpuGenerator(42).randn({1, 4, 8, 8})), 0.0);
}

TEST(BatchNoise, GpuImagesOfABatchAreTheirOwnSeedsImagesWithVariationInTheInfotext) {
    static DiffusionPipeline pipe(test::fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r;
    r.prompt = "a red house";
    r.width = r.height = 64;
    r.steps = 3;
    r.seed = 42;
    r.sampler = "euler_a";  // later draws come from each image's generator too
    r.rng = RngSource::Gpu;
    r.batch_size = 2;
    r.variation = {7, 0.25f};
    const GenerateResult both = pipe.generate(r);
    ASSERT_EQ(both.images.size(), 2u);
    EXPECT_EQ(both.images[1].seed, 43);
    const GenerationInfo info = parse_infotext(both.images[1].infotext);
    EXPECT_EQ(info.seed, 43);
    EXPECT_EQ(info.rng, "NV");
    EXPECT_NE(both.images[1].infotext.find("Variation seed: 8, Variation seed strength: 0.25"), std::string::npos)
        << both.images[1].infotext;
    r.batch_size = 1;  // the second image alone: seed 43, variation seed 8
    r.seed = 43;
    r.variation.subseed = 8;
    const GenerateResult alone = pipe.generate(r);
    EXPECT_EQ(alone.images[0].image.pixels, both.images[1].image.pixels);  // the same noise, draw for draw
    r.rng = RngSource::Cpu;
    EXPECT_NE(pipe.generate(r).images[0].image.pixels, alone.images[0].image.pixels);
}

TEST(BatchNoise, SeedResizePastesTheOldSizesNoiseCentredAsWebui) {
    // 64x64 image (latent 8x8) from 32x32 (4x4): the old noise in the middle, the image's own first draw
    // around it; later draws continue the image's generator.
    Variation from_small;
    from_small.resize_from_width = from_small.resize_from_height = 32;
    BatchNoise small(RngSource::Gpu, 42, {1, 4, 8, 8}, from_small);
    const Tensor got = small.first();
    const Tensor old = PhiloxGenerator(42).randn({4, 4, 4}), own = PhiloxGenerator(42).randn({4, 8, 8});
    for (int64_t c = 0; c < 4; ++c)
        for (int64_t y = 0; y < 8; ++y)
            for (int64_t x = 0; x < 8; ++x) {
                const bool inside = y >= 2 && y < 6 && x >= 2 && x < 6;
                const float want = inside ? old.f32()[(c * 4 + y - 2) * 4 + x - 2] : own.f32()[(c * 8 + y) * 8 + x];
                EXPECT_EQ(got.f32()[(c * 8 + y) * 8 + x], want) << c << " " << y << " " << x;
            }
    PhiloxGenerator g(42);
    g.randn({4, 8, 8});
    EXPECT_EQ(test::max_abs_diff(small.next(), g.randn({1, 4, 8, 8})), 0.0);
    // from 96 wide x 128 high (12 x 16): its centre cropped to 8 x 8 (rows 4..11, columns 2..9)
    Variation from_large;
    from_large.resize_from_width = 96;
    from_large.resize_from_height = 128;
    const Tensor big = PhiloxGenerator(42).randn({4, 16, 12});
    const Tensor cropped = BatchNoise(RngSource::Gpu, 42, {1, 4, 8, 8}, from_large).first();
    for (int64_t c = 0; c < 4; ++c)
        for (int64_t y = 0; y < 8; ++y)
            for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(cropped.f32()[(c * 8 + y) * 8 + x], big.f32()[(c * 16 + y + 4) * 12 + x + 2]);
    // from its own size: nothing to do
    Variation same;
    same.resize_from_width = same.resize_from_height = 64;
    EXPECT_EQ(test::max_abs_diff(BatchNoise(RngSource::Gpu, 42, {1, 4, 8, 8}, same).first(), own.reshape({1, 4, 8, 8})), 0.0);
}
