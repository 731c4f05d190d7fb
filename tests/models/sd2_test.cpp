// tests/models/sd2_test.cpp — SD 2.x (v-prediction) against the original Stability-AI/stablediffusion
// and OpenCLIP 2.7 code (fixture sd2-tiny-v): tokenizer padding, the OpenCLIP text tower's penultimate
// layer, the UNet with linear proj_in/proj_out and 64 channels per head, the VAE, webui's v probe.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include <fstream>

#include "io/checkpoint.h"
#include "models/clip_text.h"
#include "models/layers.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"
#include "pipeline/conditioning.h"
#include "pipeline/prediction_probe.h"
#include "models/unet_blocks.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;
using difu::test::timesteps_of;

namespace {

// cases.json tolerances: the fp32 reference is within 1.8e-6 (text), 1.8e-6 (UNet v), 2.8e-6 (VAE) of a
// float64 run; we hold about ten times that, as for SD 1.x. A wrong layer, pad token, activation, head
// split or projection kind gives errors of order 0.1 and more.
constexpr double kTextTolerance = 2e-5;
constexpr double kUNetTolerance = 2e-5;
constexpr double kVaeTolerance = 5e-5;

struct Sd2Fixture {
    Checkpoint ref = load_checkpoint(fixture_path("sd2-tiny-v/ref.safetensors"));
    Checkpoint model = load_checkpoint(fixture_path("sd2-tiny-v/model.safetensors"));
    ModelConfig cfg = detect_model(model);
    nlohmann::json cases;
    Sd2Fixture() { std::ifstream(fixture_path("sd2-tiny-v/cases.json")) >> cases; }
};
Sd2Fixture& fx() {
    static Sd2Fixture f;
    return f;
}
const UNetModel& unet() {
    static UNetModel u{fx().model, fx().cfg};
    return u;
}

}  // namespace

TEST(Sd2, OpenClipTextTowerUsesThePenultimateLayerWithFinalNorm) {
    ClipTextModel clip(fx().model, fx().cfg.text());
    Arena arena;
    const std::vector<int> ids = difu::test::token_ids(fx().ref.get("text.tokens"));
    Tensor z = clip.forward(ids, 2, /*clip_skip=*/1, arena);  // SD 2.x ignores clip skip, as webui
    const double err = max_abs_diff(z, fx().ref.get("text.penultimate"));
    std::printf("sd2 text.penultimate: max abs error %.3g\n", err);
    EXPECT_LT(err, kTextTolerance);
    EXPECT_GT(max_abs_diff(z, fx().ref.get("text.last")), 100 * kTextTolerance);  // the case it must not be
    EXPECT_LT(max_abs_diff(clip.forward(ids, 2, /*clip_skip=*/2, arena), z), 1e-7);
}

TEST(Sd2, PromptIsPaddedWithZerosAsOpenClipTokenizes) {
    // The pipeline's path: webui chunking (end-padded), pad token 0 after the end token, then the encoder.
    const auto& c = fx().cases["tokenizer_cases"][0];
    ClipTextModel clip(fx().model, fx().cfg.text());
    Arena arena;
    Tensor ours = encode_prompt(clip, ClipTokenizer::default_instance(), c["prompt"].get<std::string>(), 1, arena);
    std::vector<int> ids = c["ids_77"].get<std::vector<int>>();
    EXPECT_EQ(ids.back(), 0);
    Tensor expected = clip.forward(ids, 1, 1, arena);
    EXPECT_EQ(max_abs_diff(ours, expected), 0.0);
    // And the fixture prompt's encoding is the reference conditioning.
    EXPECT_LT(max_abs_diff(ours, fx().ref.get("text.penultimate").slice(0, 0, 1).contiguous()), kTextTolerance);
}

TEST(Sd2, UNetPredictsVBlockByBlock) {
    Arena arena;
    difu::test::UNetBlocks blocks;
    const auto& ref = fx().ref;
    Tensor v = unet().forward(ref.get("unet.x"), timesteps_of(ref.get("unet.t")), ref.get("unet.context"), arena,
                              blocks.probe());
    EXPECT_GE(blocks.expect_match(ref, kUNetTolerance), 10);
    const double err = max_abs_diff(v, ref.get("unet.v"));
    std::printf("sd2 unet.v: max abs error %.3g\n", err);
    EXPECT_LT(err, kUNetTolerance);
}

TEST(Sd2, UNetNonSquareAndFractionalTimesteps) {
    const auto& ref = fx().ref;
    for (const char* id : {"unet_nonsquare", "unet_frac_t"}) {
        Arena arena;
        const std::string p(id);
        Tensor v = unet().forward(ref.get(p + ".x"), timesteps_of(ref.get(p + ".t")), ref.get(p + ".context"), arena);
        EXPECT_LT(max_abs_diff(v, ref.get(p + ".v")), kUNetTolerance) << id;
    }
}

TEST(Sd2, VaeDecodesAndEncodes) {
    AutoencoderKL vae(fx().model, fx().cfg);
    Arena arena;
    const auto& ref = fx().ref;
    EXPECT_LT(max_abs_diff(vae.decode(ref.get("vae.decode.z"), arena), ref.get("vae.decode.out")), kVaeTolerance);
    Posterior p = vae.encode(ref.get("vae.encode.x"), arena);
    EXPECT_LT(max_abs_diff(p.mean, ref.get("vae.encode.mean")), kVaeTolerance);
    EXPECT_LT(max_abs_diff(p.logvar, ref.get("vae.encode.logvar")), kVaeTolerance);
}

TEST(Sd2, ProbeRunsWebuisTestInput) {
    // webui: x = 0.5 [1, 4, 8, 8], t = 999, context = 0.5 [1, 2, context_dim]; statistic mean(UNet(x) - x).
    Tensor x = Tensor::empty({1, 4, 8, 8}), context = Tensor::empty({1, 2, fx().cfg.unet.context_dim});
    for (float& v : x.f32_mut()) v = 0.5f;
    for (float& v : context.f32_mut()) v = 0.5f;
    Arena arena;
    Tensor out = unet().forward(x, std::vector<float>{999.0f}, context, arena);
    double sum = 0;
    for (float v : out.f32()) sum += v - 0.5;
    const PredictionProbe p = probe_prediction(unet());
    EXPECT_NEAR(p.mean_output_minus_input, sum / static_cast<double>(out.numel()), 1e-9);
    // Random weights: the statistic is near 0, not the < -1 of a trained v model (hence the yaml in
    // the pipeline tests of this fixture).
    std::printf("sd2 probe on random weights: mean(UNet(x) - x) = %.4g\n", p.mean_output_minus_input);
}

TEST(Sd2, ProbeRuleIsWebuis) {
    EXPECT_EQ(prediction_from_probe(-1.5), Prediction::V);
    EXPECT_EQ(prediction_from_probe(-1.0), Prediction::Eps);  // strictly below -1
    EXPECT_EQ(prediction_from_probe(0.2), Prediction::Eps);
}
