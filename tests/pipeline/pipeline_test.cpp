// tests/pipeline/pipeline_test.cpp — txt2img / img2img through DiffusionPipeline::generate, the code
// path the CLI and the server use: determinism, seeds, infotext, and the request checks.
#include <gtest/gtest.h>

#include "core/threads.h"
#include "io/png_info.h"
#include "pipeline/inpaint.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

DiffusionPipeline& pipe() {
    static DiffusionPipeline p(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    return p;
}

GenerateRequest small_request() {
    GenerateRequest r;
    r.prompt = "a photograph of an astronaut riding a horse";
    r.width = r.height = 128;
    r.steps = 4;
    r.seed = 42;
    return r;
}

}  // namespace

TEST(Pipeline, SameInputsGiveBitIdenticalImagesAcrossRunsAndThreadCounts) {
    GenerateRequest r = small_request();
    r.sampler = "euler_a";  // ancestral: exercises the per-step noise generator too
    const Image a = pipe().generate(r).images.at(0).image;
    const Image b = pipe().generate(r).images.at(0).image;
    EXPECT_EQ(a.pixels, b.pixels);
    const int threads = num_threads();
    set_num_threads(1);
    const Image c = pipe().generate(r).images.at(0).image;
    set_num_threads(threads);
    EXPECT_EQ(a.pixels, c.pixels);
    r.seed = 43;
    EXPECT_NE(pipe().generate(r).images.at(0).image.pixels, a.pixels);
}

TEST(Pipeline, OneModelAtATimeGivesTheSameImagesAsAllModels) {
    // The CLI builds each model when its phase starts and drops the others; the images (batches of
    // txt2img, and img2img, which needs the VAE before and after the UNet) must not change.
    DiffusionPipeline one(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32, ModelResidency::OneAtATime);
    GenerateRequest r = small_request();
    r.batch_count = 2;
    r.batch_size = 2;
    const GenerateResult a = pipe().generate(r), b = one.generate(r);
    ASSERT_EQ(a.images.size(), 4u);
    ASSERT_EQ(b.images.size(), 4u);
    for (size_t i = 0; i < a.images.size(); ++i) {
        EXPECT_EQ(a.images[i].image.pixels, b.images[i].image.pixels) << "image " << i;
        EXPECT_EQ(a.images[i].seed, b.images[i].seed);
        EXPECT_EQ(a.images[i].infotext, b.images[i].infotext);
    }
    EXPECT_GT(b.times.build, 0.0);  // its models were built inside generate()
    GenerateRequest i2i = small_request();
    i2i.init_image = a.images[0].image;
    i2i.strength = 0.5f;
    EXPECT_EQ(pipe().generate(i2i).images.at(0).image.pixels, one.generate(i2i).images.at(0).image.pixels);
}

TEST(Pipeline, PromptsOfDifferentLengthsArePaddedWithTheEmptyPrompt) {
    // Two 77-token chunks against a one-chunk negative prompt: the negative is padded with the empty
    // prompt's encoding (webui's behaviour). Equal lengths skip that encoding; both must run.
    GenerateRequest r = small_request();
    r.prompt = "a cat BREAK a dog";
    const GenerateResult padded = pipe().generate(r);
    ASSERT_EQ(padded.images.size(), 1u);
    EXPECT_EQ(padded.images[0].image.width, 128);
    r.negative_prompt = "blurry BREAK dark";  // now both have two chunks
    const GenerateResult same = pipe().generate(r);
    EXPECT_NE(same.images[0].image.pixels, padded.images[0].image.pixels);
}

TEST(Pipeline, EverySamplerRunsAndProgressCountsSteps) {
    for (SamplerKind kind : all_samplers()) {
        const std::string sampler = sampler_label(kind);  // webui's label, as a client sends it
        GenerateRequest r = small_request();
        r.sampler = sampler;
        int last = 0, calls = 0, total = 0;
        GenerateResult res = pipe().generate(r, [&](const ProgressInfo& p) {
            if (p.phase == "sampling") last = p.step, total = p.steps, ++calls;
            return true;
        });
        ASSERT_EQ(res.images.size(), 1u) << sampler;
        EXPECT_EQ(res.images[0].image.width, 128);
        EXPECT_EQ(last, total) << sampler;  // the bar ends full
        EXPECT_EQ(calls, total) << sampler;
        // DPM fast reports its solver steps (4 model calls: one third-order and one first-order step);
        // DPM adaptive picks its own.
        if (kind == SamplerKind::DpmFast) {
            EXPECT_EQ(total, 2);
        } else if (kind != SamplerKind::DpmAdaptive) {
            EXPECT_EQ(total, r.steps) << sampler;
        }
    }
}

TEST(Pipeline, AutomaticScheduleIsTheSamplersOwnAsWebuis) {
    // webui 1.10: "DPM++ 2M" with the Automatic schedule runs on Karras sigmas, "DPM++ 2M SDE" on
    // exponential ones, "Euler" on the model's own; a name that carries a schedule wins.
    auto sched = [](const char* sampler, const char* scheduler) {
        return effective_scheduler(parse_sampler(sampler), parse_scheduler(scheduler));
    };
    EXPECT_EQ(sched("DPM++ 2M", "Automatic"), SigmaScheduler::Karras);
    EXPECT_EQ(sched("DPM++ 2M SDE", "automatic"), SigmaScheduler::Exponential);
    EXPECT_EQ(sched("DPM++ 3M SDE", "Automatic"), SigmaScheduler::Exponential);
    EXPECT_EQ(sched("Euler", "Automatic"), SigmaScheduler::Discrete);
    EXPECT_EQ(sched("DPM++ 2M", "Uniform"), SigmaScheduler::Discrete);
    EXPECT_EQ(sched("DPM++ 2M Karras", "exponential"), SigmaScheduler::Karras);
    // The same request through the pipeline: Automatic and Karras give the same image for DPM++ 2M.
    GenerateRequest r = small_request();
    r.sampler = "DPM++ 2M";
    r.scheduler = "Automatic";
    const GenerateResult automatic = pipe().generate(r);
    r.scheduler = "Karras";
    EXPECT_EQ(pipe().generate(r).images[0].image.pixels, automatic.images[0].image.pixels);
    EXPECT_NE(automatic.images[0].infotext.find("Schedule type: Karras"), std::string::npos) << automatic.images[0].infotext;
}

TEST(Pipeline, SdeNoiseFollowsEachImagesSeedWhateverTheBatch) {
    // webui seeds one Brownian tree per image (seed + i) so that an SDE image does not depend on its
    // batch: image 1 of a batch of two at seed 42 is the single image of seed 43 (GPU rng).
    GenerateRequest r = small_request();
    r.sampler = "DPM++ 2M SDE";
    r.rng = RngSource::Gpu;
    r.batch_size = 2;
    const GenerateResult batch = pipe().generate(r);
    r.batch_size = 1;
    r.seed = 43;
    const GenerateResult single = pipe().generate(r);
    ASSERT_EQ(batch.images.size(), 2u);
    const auto& a = batch.images[1].image.pixels;
    const auto& b = single.images[0].image.pixels;
    ASSERT_EQ(a.size(), b.size());
    int worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
    EXPECT_LE(worst, 1);  // the UNet's batch of 2 vs 1 may round differently, nothing more
    // And the noise is used: another seed is another image.
    EXPECT_NE(batch.images[0].image.pixels, b);
}

TEST(Pipeline, InfotextDescribesTheImage) {
    GenerateRequest r = small_request();
    r.sampler = "dpmpp_2m";
    r.scheduler = "karras";
    r.negative_prompt = "blurry";
    r.clip_skip = 2;
    GenerateResult res = pipe().generate(r);
    const GenerationInfo g = parse_infotext(res.images[0].infotext);
    EXPECT_EQ(g.prompt, r.prompt);
    EXPECT_EQ(g.negative_prompt, "blurry");
    EXPECT_EQ(g.steps, 4);
    EXPECT_EQ(g.sampler, "DPM++ 2M");
    EXPECT_EQ(g.schedule_type, "Karras");
    EXPECT_EQ(g.seed, 42);
    EXPECT_EQ(g.width, 128);
    EXPECT_EQ(g.clip_skip, 2);
    EXPECT_EQ(g.rng, "CPU");
    EXPECT_EQ(g.model_name, "model");
    EXPECT_EQ(g.model_hash, "2b80e894a9");  // cases.json: sha256 of model.safetensors starts 2b80e894a9
}

TEST(Pipeline, BatchesAdvanceTheSeedAndRandomSeedIsReported) {
    GenerateRequest r = small_request();
    r.batch_count = 2;
    r.batch_size = 2;
    GenerateResult res = pipe().generate(r);
    ASSERT_EQ(res.images.size(), 4u);
    EXPECT_EQ(res.images[0].seed, 42);
    EXPECT_EQ(res.images[2].seed, 44);  // webui: the next batch starts at seed + batch size
    EXPECT_NE(res.images[0].image.pixels, res.images[1].image.pixels);
    r.batch_count = r.batch_size = 1;
    r.seed = kRandomSeed;
    GenerateResult rnd = pipe().generate(r);
    EXPECT_GE(rnd.seed, 0);
    EXPECT_EQ(parse_infotext(rnd.images[0].infotext).seed, rnd.seed);
}

TEST(Pipeline, Img2ImgKeepsThePictureAtLowStrength) {
    GenerateRequest r = small_request();
    r.init_image = read_image(fixture_path("sd1-tiny/init_image.png"));
    r.sampler = "ddim";
    r.steps = 10;
    r.strength = 0.6f;
    GenerateResult res = pipe().generate(r);
    ASSERT_EQ(res.images.size(), 1u);
    EXPECT_NEAR(parse_infotext(res.images[0].infotext).denoising_strength.value_or(-1), 0.6, 1e-6);
    r.sampler = "euler";
    EXPECT_EQ(pipe().generate(r).images.size(), 1u);
}

TEST(Pipeline, BadRequestsAreRejectedWithTheField) {
    auto error_of = [](GenerateRequest r) {
        try {
            pipe().generate(r);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    GenerateRequest r = small_request();
    r.width = 100;
    EXPECT_NE(error_of(r).find("multiple of 8"), std::string::npos);
    r = small_request();
    r.sampler = "warp drive";
    EXPECT_NE(error_of(r).find("unknown sampler"), std::string::npos);
    r = small_request();
    r.steps = 0;
    EXPECT_NE(error_of(r).find("steps"), std::string::npos);
    r = small_request();
    r.scheduler = "linear";
    EXPECT_NE(error_of(r).find("unknown scheduler"), std::string::npos);
}

TEST(Pipeline, CancelStopsTheRun) {
    GenerateRequest r = small_request();
    EXPECT_THROW(pipe().generate(r, [](const ProgressInfo& p) { return p.step < 2; }), Cancelled);
}

TEST(Pipeline, CfgAtMostOneSkipsTheUnconditionalPass) {
    // Turbo models run at cfg 0 or 1: the conditional prediction alone, one UNet batch of B per step.
    static DiffusionPipeline pipe(test::fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r;
    r.prompt = "a cat";
    r.negative_prompt = "a dog";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 9;
    r.sampler = "euler";
    r.cfg_scale = 0.0f;
    const auto zero = pipe.generate(r).images[0].image.pixels;
    r.cfg_scale = 1.0f;
    const auto one = pipe.generate(r).images[0].image.pixels;
    EXPECT_EQ(zero, one);  // both are the prompt's prediction, whatever the negative prompt says
    r.negative_prompt = "something else";
    EXPECT_EQ(pipe.generate(r).images[0].image.pixels, one);
    r.cfg_scale = 1.5f;
    EXPECT_NE(pipe.generate(r).images[0].image.pixels, one);
}

TEST(Pipeline, PromptEditingCountsModelCallsAsWebuisCfgDenoiser) {
    // webui schedules prompt edits over model calls, steps × 2 for second-order samplers. [a cat:a dog:2]
    // over 3 steps: Euler calls the model 3 times, all before the switch (calls 0..2 are "a cat"), so it
    // draws "a cat"; Heun's 5 calls (2 + 2 + a last Euler one) switch at call 3, within its second step.
    GenerateRequest r = small_request();
    r.width = r.height = 64;
    r.steps = 3;
    for (const char* sampler : {"euler", "heun"}) {
        r.sampler = sampler;
        r.prompt = "a cat";
        const auto cat = pipe().generate(r).images.at(0).image.pixels;
        r.prompt = "[a cat:a dog:2]";
        const auto edited = pipe().generate(r).images.at(0).image.pixels;
        if (std::string(sampler) == "euler") EXPECT_EQ(edited, cat);
        else EXPECT_NE(edited, cat);
    }
}

TEST(Pipeline, TaesdDecodesAndEncodesWhenAsked) {
    DiffusionPipeline p(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r = small_request();
    r.decode = VaeMethod::Taesd;
    EXPECT_THROW(p.generate(r), Error);  // none loaded: a clear error, not the VAE's picture
    p.set_taesd(fixture_path("taesd-tiny/taesd_decoder.safetensors"), fixture_path("taesd-tiny/taesd_encoder.safetensors"));
    const GenerateResult tiny = p.generate(r);
    r.decode = VaeMethod::Full;
    const GenerateResult full = p.generate(r);
    ASSERT_EQ(tiny.images.size(), 1u);
    EXPECT_EQ(tiny.images[0].image.width, 128);
    EXPECT_NE(tiny.images[0].image.pixels, full.images[0].image.pixels);  // another decoder (random weights)
    EXPECT_NE(tiny.images[0].infotext.find("VAE Decoder: TAESD"), std::string::npos) << tiny.images[0].infotext;
    EXPECT_EQ(full.images[0].infotext.find("TAESD"), std::string::npos);
    // img2img: the init image's latent is TAESD's, not the VAE's.
    r.init_image = read_image(fixture_path("sd1-tiny/init_image.png"));
    r.encode = VaeMethod::Taesd;
    r.sampler = "ddim";
    const GenerateResult i2i = p.generate(r);
    EXPECT_NE(i2i.images[0].infotext.find("VAE Encoder: TAESD"), std::string::npos);
    r.encode = VaeMethod::Full;
    EXPECT_NE(p.generate(r).images[0].image.pixels, i2i.images[0].image.pixels);
}

TEST(Pipeline, MaskedImg2ImgRepaintsInsideTheMaskOnly) {
    // webui's masked img2img with an ordinary model: the denoised estimates keep the init latent outside
    // the mask, and the picture is pasted over the original inside it.
    GenerateRequest r = small_request();
    r.init_image = read_image(fixture_path("sd1-tiny/init_image.png"));
    r.strength = 0.8f;
    Image mask{128, 128, 3, std::vector<uint8_t>(128 * 128 * 3, 0)};
    for (int y = 32; y < 96; ++y)
        for (int x = 40; x < 104; ++x) std::fill_n(&mask.pixels[(y * 128 + x) * 3], 3, uint8_t{255});
    r.mask = mask;
    const GenerateResult masked = pipe().generate(r);
    const Image& got = masked.images.at(0).image;
    const Image& orig = *r.init_image;
    int inside_changed = 0;
    for (int y = 0; y < 128; ++y)
        for (int x = 0; x < 128; ++x) {
            const bool inside = y >= 32 && y < 96 && x >= 40 && x < 104;
            for (int c = 0; c < 3; ++c) {
                if (!inside) {
                    ASSERT_EQ(got.at(x, y)[c], orig.at(x, y)[c]) << x << "," << y;
                }
                inside_changed += inside && got.at(x, y)[c] != orig.at(x, y)[c];
            }
        }
    EXPECT_GT(inside_changed, 64 * 64);  // repainted
    // Without the paste the outside is the decoded init latent: close to, not equal to, the original.
    r.inpaint.composite = false;
    const Image raw = pipe().generate(r).images.at(0).image;
    EXPECT_NE(raw.pixels, got.pixels);
    // Inverted, the other part is repainted: the centre is kept.
    r.inpaint.composite = true;
    r.inpaint.invert = true;
    const Image inv = pipe().generate(r).images.at(0).image;
    for (int c = 0; c < 3; ++c) EXPECT_EQ(inv.at(64, 64)[c], orig.at(64, 64)[c]);
    // The CompVis samplers have no per-step blending here: refused, not a silently unmasked picture.
    r.sampler = "ddim";
    EXPECT_THROW(pipe().generate(r), Error);
}

TEST(Pipeline, LatentMaskIsTheBicubicShrinkRounded) {
    // webui: latmask = round(resize(mask, (w/8, h/8), BICUBIC) / 255). Cells well inside a white block
    // are 1, well outside 0; a block edge on a cell boundary splits the cells there by the rounding.
    Image mask{64, 64, 1, std::vector<uint8_t>(64 * 64, 0)};
    for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 32; ++x) mask.pixels[y * 64 + x] = 255;
    const std::vector<float> lat = latent_repaint_mask(mask);
    ASSERT_EQ(lat.size(), 64u);
    for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 3; ++x) EXPECT_EQ(lat[y * 8 + x], 1.0f) << x;
        for (int x = 5; x < 8; ++x) EXPECT_EQ(lat[y * 8 + x], 0.0f) << x;
        EXPECT_EQ(lat[y * 8 + 3], 1.0f);  // left of the edge: mostly white
        EXPECT_EQ(lat[y * 8 + 4], 0.0f);
    }
    // webui's mask_round false keeps the bicubic shares: strictly between 0 and 1 at the edge, the
    // rounding of them what the rounded mask holds.
    const std::vector<float> soft = latent_repaint_mask(mask, /*round=*/false);
    for (int y = 0; y < 8; ++y) {
        EXPECT_GT(soft[y * 8 + 3], 0.5f);
        EXPECT_LT(soft[y * 8 + 3], 1.0f);
        EXPECT_GT(soft[y * 8 + 4], 0.0f);
        EXPECT_LT(soft[y * 8 + 4], 0.5f);
        for (int x = 0; x < 8; ++x) EXPECT_EQ(std::nearbyint(soft[y * 8 + x]), lat[y * 8 + x]) << x;
    }
}

TEST(Pipeline, ApproxCheapPreviewIsWebuisLinearMap) {
    // webui's cheap_approximation for SD 1.x: RGB = Σ_l latent_l · F[l], F rows (0.298, 0.207, 0.208),
    // (0.187, 0.286, 0.173), (-0.158, 0.189, 0.264), (-0.184, -0.271, -0.473); pixel = (x + 1) / 2.
    Tensor latent = Tensor::empty({2, 4, 1, 2});
    const float values[] = {1, 0, 0.5f, 0, -1, 0, 0, 2, /* image 1 */ 0, 0, 0, 0, 0, 0, 0, 0};
    std::copy(std::begin(values), std::end(values), latent.f32_mut().begin());
    const Image img = pipe().preview(latent, 0);
    ASSERT_EQ(img.width, 2);
    ASSERT_EQ(img.height, 1);
    // pixel 0: latent (1, 0.5, -1, 0) -> R = 0.298 + 0.0935 + 0.158 = 0.5495 -> (1.5495 / 2) · 255 = 197.56 -> 198
    EXPECT_EQ(img.at(0, 0)[0], 198);
    // pixel 1: latent (0, 0, 0, 2) -> B = -0.946 -> 0.027 · 255 = 6.885 -> 7
    EXPECT_EQ(img.at(1, 0)[2], 7);
    EXPECT_EQ(pipe().preview(latent, 1).at(0, 0)[1], 128);  // a zero latent is mid-gray (127.5 rounds to even)
}
