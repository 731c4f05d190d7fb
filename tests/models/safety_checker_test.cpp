// tests/models/safety_checker_test.cpp — the safety checker (models/safety_checker.h) against diffusers'
// StableDiffusionSafetyChecker run through CompVis's check_safety (safety-checker-tiny fixture): the
// feature extractor's resize / crop / pixel values, the vision tower, every score and every flag.
#include <gtest/gtest.h>

#include <cstdio>

#include "io/checkpoint.h"
#include "models/safety_checker.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {
constexpr int kImages = 4;
const Checkpoint& ref() {
    static const Checkpoint c = load_checkpoint(fixture_path("safety-checker-tiny/ref.safetensors"));
    return c;
}
const SafetyChecker& checker() {
    static const SafetyChecker c(fixture_path("safety-checker-tiny"));  // the folder, as released
    return c;
}
Image picture(int i) { return read_image(fixture_path("safety-checker-tiny/image_" + std::to_string(i) + ".png"), Alpha::Drop); }
std::vector<uint8_t> bytes(const Tensor& t) { return std::vector<uint8_t>(t.data<uint8_t>(), t.data<uint8_t>() + t.numel()); }
}  // namespace

TEST(SafetyChecker, FeatureExtractorResizesCropsAndNormalisesAsTransformers) {
    std::vector<Image> pictures;
    for (int i = 0; i < kImages; ++i) {
        pictures.push_back(picture(i));
        const Image resized = clip_resize_short_side(pictures.back(), 224);
        const Tensor& want = ref().get("fe." + std::to_string(i) + ".resized_u8");
        ASSERT_EQ(resized.height, want.dim(0)) << i;
        ASSERT_EQ(resized.width, want.dim(1)) << i;
        EXPECT_EQ(resized.pixels, bytes(want)) << "resize of image " << i;
        EXPECT_EQ(clip_center_crop(resized, 224).pixels, bytes(ref().get("fe." + std::to_string(i) + ".cropped_u8"))) << i;
    }
    EXPECT_EQ(max_abs_diff(checker().preprocess(pictures), ref().get("fe.pixel_values")), 0.0);
}

TEST(SafetyChecker, VisionTowerMatchesTheReference) {
    Arena arena;
    const ClipVisionOutput out = checker().vision().forward(ref().get("fe.pixel_values"), arena);
    const double hidden = max_abs_diff(out.last_hidden_state, ref().get("vision.last_hidden_state"));
    const double pooled = max_abs_diff(out.pooled, ref().get("vision.pooled_output"));
    const double embeds = max_abs_diff(out.image_embeds, ref().get("vision.image_embeds"));
    std::printf("safety checker vision tower: max abs error hidden %.3g, pooled %.3g, image_embeds %.3g\n", hidden, pooled, embeds);
    // cases.json: the reference's own fp32-vs-fp64 error is 2.6e-6 / 6.2e-7 / 4.2e-7; ten times that.
    EXPECT_LT(hidden, 2.6e-5);
    EXPECT_LT(pooled, 6.2e-6);
    EXPECT_LT(embeds, 4.2e-6);
}

TEST(SafetyChecker, EveryScoreAndFlagIsTheReferences) {
    std::vector<Image> pictures;
    for (int i = 0; i < kImages; ++i) pictures.push_back(picture(i));
    Arena arena;
    const std::vector<SafetyVerdict> v = checker().check(pictures, arena);
    ASSERT_EQ(v.size(), static_cast<size_t>(kImages));
    const Tensor& cos = ref().get("scores.cos_dist");
    const Tensor& special_cos = ref().get("scores.special_cos_dist");
    const Tensor& concept_scores = ref().get("scores.concept_scores");
    const Tensor& special_scores = ref().get("scores.special_scores");
    for (int i = 0; i < kImages; ++i) {
        ASSERT_EQ(v[i].cos_dist.size(), 17u);
        ASSERT_EQ(v[i].special_cos_dist.size(), 3u);
        for (int k = 0; k < 17; ++k) {
            EXPECT_NEAR(v[i].cos_dist[k], cos.data<float>()[i * 17 + k], 2e-6) << i << "," << k;
            EXPECT_EQ(v[i].concept_scores[k], concept_scores.data<double>()[i * 17 + k]) << i << "," << k;
        }
        for (int k = 0; k < 3; ++k) {
            EXPECT_NEAR(v[i].special_cos_dist[k], special_cos.data<float>()[i * 3 + k], 2e-6) << i << "," << k;
            EXPECT_EQ(v[i].special_scores[k], special_scores.data<double>()[i * 3 + k]) << i << "," << k;
        }
        EXPECT_EQ(v[i].adjustment, ref().get("scores.adjustment").data<double>()[i]) << i;
        EXPECT_EQ(v[i].special_care, ref().get("scores.special_care").data<uint8_t>()[i] != 0) << i;
        EXPECT_EQ(v[i].nsfw, ref().get("scores.has_nsfw_concept").data<uint8_t>()[i] != 0) << i;
    }
    // The fixture's four situations: flagged through the special-care adjustment, flagged directly, a
    // positive raw score rounding to 0.000 (not flagged), special care without a flag.
    EXPECT_TRUE(v[0].nsfw && v[0].special_care);
    EXPECT_TRUE(v[1].nsfw);
    EXPECT_FALSE(v[2].nsfw);
    EXPECT_TRUE(!v[3].nsfw && v[3].special_care);
}

TEST(SafetyChecker, RefusesWhatIsNoChecker) {
    EXPECT_THROW(SafetyChecker(fixture_path("sd1-tiny/model.safetensors")), Error);
    EXPECT_THROW(SafetyChecker(fixture_path("sd1-tiny")), Error);  // a folder without the weights' files
}

#include "pipeline/pipeline.h"

TEST(SafetyChecker, FlaggedPicturesBecomeBlackOrBlurredOrAreOnlyReported) {
    // A checker whose thresholds are all -1 flags everything (the fixture's own, copied with new weights).
    auto strict = std::make_shared<const SafetyChecker>(difu::test::flag_all_safety_checker());

    DiffusionPipeline pipe(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r;
    r.prompt = "x";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 3;
    const Image plain = pipe.generate(r).images.at(0).image;
    pipe.set_safety_checker(strict, NsfwAction::FlagOnly);
    const GeneratedImage reported = pipe.generate(r).images.at(0);
    EXPECT_TRUE(reported.nsfw);
    EXPECT_EQ(reported.image.pixels, plain.pixels);
    pipe.set_safety_checker(strict, NsfwAction::Black);
    const GeneratedImage black = pipe.generate(r).images.at(0);
    EXPECT_TRUE(black.nsfw);
    EXPECT_EQ(black.image.pixels, std::vector<uint8_t>(plain.pixels.size(), 0));
    pipe.set_safety_checker(strict, NsfwAction::Blur);
    const GeneratedImage blurred = pipe.generate(r).images.at(0);
    EXPECT_NE(blurred.image.pixels, plain.pixels);
    EXPECT_NE(blurred.image.pixels, black.image.pixels);
    // The fixture's checker as released-shaped: its verdict on this picture is reported, the picture kept
    // unless flagged.
    pipe.set_safety_checker(std::make_shared<const SafetyChecker>(fixture_path("safety-checker-tiny")), NsfwAction::Black);
    const GeneratedImage checked = pipe.generate(r).images.at(0);
    if (!checked.nsfw) {
        EXPECT_EQ(checked.image.pixels, plain.pixels);
    }
    EXPECT_THROW(parse_nsfw_action("hide"), Error);
}
