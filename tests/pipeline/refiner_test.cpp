// tests/pipeline/refiner_test.cpp — webui's refiner: where the switch falls (ModelSwitch), and the
// second model continuing the first one's sampler run through DiffusionPipeline::generate.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "pipeline/pipeline.h"
#include "pipeline/refiner.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

const std::string kSd1 = fixture_path("sd1-tiny/model.safetensors");

GenerateRequest small_request() {
    GenerateRequest r;
    r.prompt = "a photograph of an astronaut riding a horse";
    r.width = r.height = 64;
    r.steps = 6;
    r.seed = 7;
    r.sampler = "euler_a";  // the ancestral noise stream must carry over the switch too
    return r;
}

// sd1-tiny with its UNet's output convolution zeroed: a model whose eps is always 0, so a run it refines
// differs from the base model's.
std::string zero_output_model() {
    const std::string path = test::temp_dir() + "/zero-output.safetensors";
    if (std::filesystem::exists(path)) return path;
    Checkpoint ck = load_checkpoint(kSd1);
    std::vector<NamedTensor> out;
    for (const auto& [name, t] : ck.tensors) {
        const bool zeroed = name.rfind("model.diffusion_model.out.2.", 0) == 0;
        out.push_back({name, zeroed ? Tensor::empty(t.shape(), t.dtype()) : t.clone()});  // empty() is zero-filled
    }
    write_safetensors(path, out);
    return path;
}

std::string infotext_of(const GenerateResult& g) { return g.images.at(0).infotext; }

}  // namespace

TEST(Refiner, CompletedRatioIsWebuisTimestepFraction) {
    const DiscreteSchedule s{ScheduleConfig{}};
    EXPECT_DOUBLE_EQ(completed_ratio(s, 999), 0.0);
    EXPECT_DOUBLE_EQ(completed_ratio(s, 199), 0.8);
    EXPECT_DOUBLE_EQ(completed_ratio(s, 0), 0.999);
    for (int t : {0, 1, 500, 998, 999}) EXPECT_EQ(s.nearest_timestep(s.sigma_at(t)), t);
}

TEST(Refiner, SwitchesAtTheFirstCallPastSwitchAtAndStays) {
    // 20 discrete steps at 0.8: the calls at t = linspace(999, 0, 20) go to the refiner from the first
    // one whose timestep is <= 199 (t = 157.7 -> 158, the 17th call) on.
    const DiscreteSchedule s{ScheduleConfig{}};
    const std::vector<float> sigmas = s.discrete_sigmas(20);
    int first_refiner_call = -1;
    for (int i = 0; i < 20; ++i)
        if (first_refiner_call < 0 && std::lround(999.0 - 999.0 * i / 19) <= 199) first_refiner_call = i;
    ASSERT_EQ(first_refiner_call, 16);
    std::vector<char> called;  // 'b' base, 'r' refiner, per call
    char active = 'b';
    int activations = 0;
    ModelSwitch sw(s, 0.8f, [&] { active = 'r', ++activations; });
    Denoiser d = sw.denoiser([&]() -> Denoiser {
        return [&](const Tensor& x, float) { called.push_back(active); return x; };
    });
    for (int i = 0; i < 20; ++i) d(Tensor(), sigmas[static_cast<size_t>(i)]);
    d(Tensor(), sigmas[0]);  // a later call at a high sigma (a second-order step) stays with the refiner
    ASSERT_EQ(called.size(), 21u);
    for (int i = 0; i < 21; ++i) EXPECT_EQ(called[static_cast<size_t>(i)], i < first_refiner_call ? 'b' : 'r') << "call " << i;
    EXPECT_EQ(activations, 1);
    EXPECT_TRUE(sw.switched());

    ModelSwitch never(s, 1.0f, [&] { FAIL() << "switch_at 1 is never reached ((T-1-t)/T < 1)"; });
    EpsModel e = never.eps_model([&]() -> EpsModel { return [](const Tensor& x, int) { return x; }; });
    for (int t : {999, 500, 0}) e(Tensor(), t);
    EXPECT_FALSE(never.switched());
}

TEST(Refiner, TheSameModelAsRefinerContinuesTheRunUnchanged) {
    // The switch keeps the sampler's state (x, the ancestral noise): refining with the base model itself
    // gives the base image, bit for bit, whatever the switch point; the infotext names the refiner.
    DiffusionPipeline base(kSd1, Precision::FP32);
    const GenerateRequest r = small_request();
    const GenerateResult plain = base.generate(r);
    EXPECT_EQ(infotext_of(plain).find("Refiner"), std::string::npos);
    base.set_refiner(std::make_shared<DiffusionPipeline>(kSd1, Precision::FP32));
    for (float at : {0.3f, 0.8f}) {
        GenerateRequest rr = r;
        rr.refiner_switch_at = at;
        const GenerateResult refined = base.generate(rr);
        EXPECT_EQ(refined.images.at(0).image.pixels, plain.images.at(0).image.pixels) << "switch at " << at;
        EXPECT_NE(infotext_of(refined).find("Refiner: model [" + base.model_hash() + "], Refiner switch at: " +
                                            (at == 0.8f ? "0.8" : "0.3")),
                  std::string::npos)
            << infotext_of(refined);
    }
}

TEST(Refiner, AnotherModelTakesOverFromTheSwitchStepOn) {
    DiffusionPipeline base(kSd1, Precision::FP32);
    base.set_refiner(std::make_shared<DiffusionPipeline>(zero_output_model(), Precision::FP32));
    GenerateRequest r = small_request();
    const auto plain = base.generate(r).images.at(0).image.pixels;
    r.refiner_switch_at = 1.0f;  // never reached: the base model alone, no refiner in the infotext
    const GenerateResult unswitched = base.generate(r);
    EXPECT_EQ(unswitched.images.at(0).image.pixels, plain);
    EXPECT_EQ(infotext_of(unswitched).find("Refiner"), std::string::npos);
    r.refiner_switch_at = 0.5f;
    const auto half = base.generate(r).images.at(0).image.pixels;
    r.refiner_switch_at = 0.8f;
    const auto late = base.generate(r).images.at(0).image.pixels;
    EXPECT_NE(half, plain);
    EXPECT_NE(late, plain);
    EXPECT_NE(half, late);
    // 6 steps call the model at t = 999, 799, 599, 400, 200, 0 (ratios 0, .2, .4, .599, .799, .999):
    // every switch point in (.4, .599] hands over at the same call, so gives the same image.
    r.refiner_switch_at = 0.45f;
    const auto a = base.generate(r).images.at(0).image.pixels;
    r.refiner_switch_at = 0.59f;
    EXPECT_EQ(base.generate(r).images.at(0).image.pixels, a);
    r.refiner_switch_at = 0.6f;  // one call later
    EXPECT_NE(base.generate(r).images.at(0).image.pixels, a);
}

TEST(Refiner, OneModelAtATimeGivesTheSameImages) {
    // The CLI's residency: base and refiner each hold one model at a time, every batch switching anew.
    DiffusionPipeline all(kSd1, Precision::FP32), one(kSd1, Precision::FP32, ModelResidency::OneAtATime);
    all.set_refiner(std::make_shared<DiffusionPipeline>(zero_output_model(), Precision::FP32));
    one.set_refiner(std::make_shared<DiffusionPipeline>(zero_output_model(), Precision::FP32, ModelResidency::OneAtATime));
    GenerateRequest r = small_request();
    r.refiner_switch_at = 0.5f;
    r.batch_count = 2;
    const GenerateResult a = all.generate(r), b = one.generate(r);
    ASSERT_EQ(a.images.size(), 2u);
    ASSERT_EQ(b.images.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(a.images[i].image.pixels, b.images[i].image.pixels) << "image " << i;
        EXPECT_EQ(a.images[i].infotext, b.images[i].infotext);
    }
}

TEST(Refiner, RequestsAndModelsThatCannotWorkAreRefused) {
    DiffusionPipeline base(kSd1, Precision::FP32);
    GenerateRequest r = small_request();
    r.refiner_switch_at = 0.8f;
    try {
        base.generate(r);
        FAIL() << "no refiner loaded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--refiner"), std::string::npos) << e.what();
    }
    for (float bad : {0.0f, -0.5f, 1.5f, std::nanf("")}) {
        r.refiner_switch_at = bad;
        EXPECT_THROW(validate_request(r), Error) << bad;
    }
}
