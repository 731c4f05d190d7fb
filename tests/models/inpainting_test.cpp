// tests/models/inpainting_test.cpp — the 9-channel inpainting UNet against runwayml's
// LatentInpaintDiffusion (fixture sd1-tiny-inpaint, its text encoder sd1-tiny's): detection, the UNet
// on [x, mask, masked-image latent], a DDIM run with the stored c_concat through the pipeline's guidance,
// and webui's txt2img conditioning (everything masked) in a whole generation.
#include <gtest/gtest.h>

#include <cstdio>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"
#include "pipeline/guidance.h"
#include "pipeline/image_conditioning.h"
#include "pipeline/inpaint.h"
#include "pipeline/pipeline.h"
#include "sampling/ddim.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;
using difu::test::timesteps_of;

namespace {

constexpr double kUNetTolerance = 2e-5;    // reference vs float64: 2.0e-6
constexpr double kLatentTolerance = 1e-3;  // reference vs float64 after 8 steps: 7.6e-5 (|x| <= 27)

// The inpainting file holds the UNet, VAE and schedule; the text encoder is sd1-tiny's (cases.json).
struct InpaintFixture {
    Checkpoint ref = load_checkpoint(fixture_path("sd1-tiny-inpaint/ref.safetensors"));
    Checkpoint text = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    Checkpoint model = merged();
    ModelConfig cfg = detect_model(model);
    UNetModel unet{model, cfg};

    Checkpoint merged() const {
        Checkpoint m = load_checkpoint(fixture_path("sd1-tiny-inpaint/model.safetensors"));
        for (const auto& [name, t] : text.tensors)
            if (name.rfind("cond_stage_model.", 0) == 0) m.tensors.emplace(name, t);
        return m;
    }
};
InpaintFixture& fx() {
    static InpaintFixture f;
    return f;
}

}  // namespace

TEST(Inpainting, NineChannelUNetIsDetectedAndSupported) {
    EXPECT_EQ(fx().cfg.family, ModelFamily::SD1);
    EXPECT_EQ(fx().cfg.variant, "inpainting");
    EXPECT_EQ(fx().cfg.unet.in_channels, 9);
    EXPECT_TRUE(fx().cfg.supported()) << fx().cfg.unsupported_reason();
    EXPECT_NE(fx().cfg.display_name().find("inpainting"), std::string::npos);
}

TEST(Inpainting, UNetOnLatentMaskAndMaskedImageLatent) {
    Arena arena;
    const auto& ref = fx().ref;
    Tensor eps = fx().unet.forward(ref.get("unet.x"), timesteps_of(ref.get("unet.t")), ref.get("unet.context"), arena);
    const double err = max_abs_diff(eps, ref.get("unet.eps"));
    std::printf("inpainting unet.eps: max abs error %.3g\n", err);
    EXPECT_LT(err, kUNetTolerance);
}

TEST(Inpainting, DdimRunWithTheStoredConditioning) {
    const auto& ref = fx().ref;
    const DiscreteSchedule schedule(fx().cfg.schedule);
    Arena arena;
    int calls = 0;
    GuidedModel m{fx().unet, schedule, ref.get("text.cond"), ref.get("text.uncond"), 7.5f, arena, &calls};
    m.image_conditioning = ref.get("cond.c_concat");
    DdimSchedule s = make_ddim_schedule(schedule, 8, 0.0f);
    DdimResult r = sample_ddim(make_cfg_eps(m), s, ref.get("ddim.x_T"), 8, nullptr, nullptr, true);
    const double err = max_abs_diff(r.x, ref.get("ddim_eta0.samples"));
    std::printf("inpainting ddim eta 0: samples max abs error %.3g\n", err);
    EXPECT_LT(err, kLatentTolerance);
    EXPECT_EQ(calls, 8);
}

TEST(Inpainting, Txt2ImgConditioningMasksEverythingOverAGrayImage) {
    AutoencoderKL vae(fx().model, fx().cfg);
    Arena arena;
    Tensor c = txt2img_image_conditioning(vae, fx().cfg, 64, 48, arena);
    ASSERT_EQ(c.shape(), (Shape{1, 5, 6, 8}));
    Tensor gray = Tensor::empty({1, 3, 48, 64});
    for (float& v : gray.f32_mut()) v = 0.0f;
    Tensor mean = vae.encode(gray, arena).mean.contiguous();
    for (int64_t i = 0; i < 6 * 8; ++i) EXPECT_EQ(c.f32()[i], 1.0f);
    for (int64_t i = 0; i < mean.numel(); ++i) EXPECT_FLOAT_EQ(c.f32()[48 + i], mean.f32()[i] * 0.18215f);
}

TEST(Inpainting, WholeTxt2ImgRunFromAMergedCheckpoint) {
    // A user's inpainting checkpoint holds everything; write the merged fixture as one file and generate.
    const std::string path = test::temp_dir() + "/inpainting.safetensors";
    std::vector<NamedTensor> tensors;
    for (const auto& [name, t] : fx().model.tensors) tensors.push_back({name, t});
    write_safetensors(path, tensors, {});
    DiffusionPipeline pipe(path, Precision::FP32, ModelResidency::OneAtATime);
    GenerateRequest r;
    r.prompt = "a red wooden bench in a green park";
    r.width = r.height = 64;
    r.steps = 3;
    r.seed = 1;
    r.sampler = "euler";
    GenerateResult out = pipe.generate(r);
    ASSERT_EQ(out.images.size(), 1u);
    EXPECT_EQ(out.images[0].image.width, 64);
}

TEST(Inpainting, ConditioningFromImageAndMaskAsRunwaymlBuildsIt) {
    // make_batch_sd + the concat_keys loop: mask >= 0.5 is repainted, the masked image is 0 there, the
    // latent mask is the nearest sample (8i, 8j), the masked latent a posterior sample (cond.enc_noise).
    const auto& ref = fx().ref;
    const Image image = read_image(fixture_path("sd1-tiny-inpaint/image.png"));
    const Image mask_png = read_image(fixture_path("sd1-tiny-inpaint/mask.png"));
    const std::vector<float> mask = mask_shares(prepared_mask(mask_png, {}, 128, 128));
    const Tensor& want_mask = ref.get("batch.mask");
    for (size_t i = 0; i < mask.size(); ++i) ASSERT_EQ(std::nearbyint(mask[i]), want_mask.f32()[i]) << i;
    std::vector<float> chw = to_float_chw(image);
    const Tensor x = Tensor::from_f32({1, 3, 128, 128}, chw);
    EXPECT_LT(max_abs_diff(x, ref.get("batch.image")), 1e-6);
    AutoencoderKL vae(fx().model, fx().cfg);
    Arena arena;
    const Tensor c = inpainting_conditioning(vae, fx().cfg, x, mask, ref.get("cond.enc_noise"), arena);
    const double err = max_abs_diff(c, ref.get("cond.c_concat"));
    std::printf("inpainting c_concat: max abs error %.3g\n", err);
    EXPECT_LT(err, 2e-5);  // the VAE encoder's fp32 rounding (reference's own: 3.5e-7 on a 0.58 latent)
    // Inverted: the kept part is repainted.
    InpaintOptions invert;
    invert.invert = true;
    const std::vector<float> inverted = mask_shares(prepared_mask(mask_png, invert, 128, 128));
    for (size_t i = 0; i < mask.size(); ++i) ASSERT_FLOAT_EQ(inverted[i], 1.0f - mask[i]);
}

TEST(Inpainting, TheDdimRunsOfInpaintStThroughThePipeline) {
    // inpaint_st.py with stored x_T (RandomState) and posterior noise: strength 1 starts from noise,
    // the picture enters through the conditioning only. eta 0 end to end; eta 1 needs its step noise,
    // checked at the sampler level.
    const std::string path = test::temp_dir() + "/inpainting-ddim.safetensors";
    std::vector<NamedTensor> tensors;
    for (const auto& [name, t] : fx().model.tensors) tensors.push_back({name, t});
    write_safetensors(path, tensors, {});
    DiffusionPipeline pipe(path, Precision::FP32);
    const auto& ref = fx().ref;
    GenerateRequest r;
    r.prompt = "a red wooden bench in a green park";
    r.width = r.height = 128;
    r.steps = 8;
    r.cfg_scale = 7.5f;
    r.seed = 7;
    r.sampler = "ddim";
    r.init_image = read_image(fixture_path("sd1-tiny-inpaint/image.png"));
    r.mask = read_image(fixture_path("sd1-tiny-inpaint/mask.png"));
    r.strength = 1.0f;
    r.initial_noise = ref.get("ddim.x_T");
    r.mask_image_noise = ref.get("cond.enc_noise");
    r.inpaint.composite = false;  // inpaint_st.py decodes everywhere, no paste
    const GenerateResult out = pipe.generate(r);
    // The reference picture in [0, 1] ([1, 3, 128, 128]), rounded as difu rounds (inpaint_st.py truncates).
    const Tensor& want = ref.get("ddim_eta0.image");
    const Image& got = out.images.at(0).image;
    int worst = 0, off = 0;
    for (int y = 0; y < 128; ++y)
        for (int x = 0; x < 128; ++x)
            for (int c = 0; c < 3; ++c) {
                const int expected = static_cast<int>(std::lround(want.f32()[(c * 128 + y) * 128 + x] * 255.0f));
                const int d = std::abs(int(got.at(x, y)[c]) - expected);
                worst = std::max(worst, d);
                off += d > 0;
            }
    std::printf("inpainting ddim eta 0 image: worst %d/255, %d of %d values differ\n", worst, off, 128 * 128 * 3);
    EXPECT_LE(worst, 1);
    EXPECT_LE(off, 128 * 128 * 3 / 1000);  // >= 99.9 % exact
}

TEST(Inpainting, DdimEtaOneWithTheStoredStepNoise) {
    const auto& ref = fx().ref;
    const DiscreteSchedule schedule(fx().cfg.schedule);
    Arena arena;
    GuidedModel m{fx().unet, schedule, ref.get("text.cond"), ref.get("text.uncond"), 7.5f, arena};
    m.image_conditioning = ref.get("cond.c_concat");
    const DdimSchedule s = make_ddim_schedule(schedule, 8, 1.0f);
    auto next = std::make_shared<int64_t>(0);
    const Tensor all = ref.get("ddim_eta1.step_noise");
    NoiseSampler noise = [all, next](const Shape&, float, float) { return all.select(0, (*next)++).contiguous(); };
    const DdimResult r = sample_ddim(make_cfg_eps(m), s, ref.get("ddim.x_T"), 8, noise, nullptr);
    const double err = max_abs_diff(r.x, ref.get("ddim_eta1.samples"));
    std::printf("inpainting ddim eta 1: samples max abs error %.3g\n", err);
    EXPECT_LT(err, kLatentTolerance);
}
