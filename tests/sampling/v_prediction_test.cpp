// tests/sampling/v_prediction_test.cpp — the samplers on a v-prediction model (fixture sd2-tiny-v):
// k-diffusion's CompVisVDenoiser scalings (Euler, DPM++ 2M Karras) and CompVis DDIM's v path
// (guidance on v, eps = sqrt(a) v + sqrt(1 - a) x), through the pipeline's guidance code.
#include <gtest/gtest.h>

#include <cstdio>

#include "io/checkpoint.h"
#include "pipeline/guidance.h"
#include "sampling/ddim.h"
#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {

// cases.json: the fp32 reference run is within 2.4e-5 of a float64 one at any step (|x| <= 50 at the
// start, <= 4.3 at the end); we hold 2e-4. eps-scalings on this v model miss by more than 1.
constexpr double kLatentTolerance = 2e-4;

struct VFixture {
    Checkpoint ref = load_checkpoint(fixture_path("sd2-tiny-v/ref.safetensors"));
    Checkpoint model = load_checkpoint(fixture_path("sd2-tiny-v/model.safetensors"));
    ModelConfig cfg = detect_model(model);
    UNetModel unet{model, cfg};
    DiscreteSchedule schedule{cfg.schedule};
};
VFixture& fx() {
    static VFixture f;
    return f;
}

struct Guided {
    Arena arena;
    int calls = 0;
    GuidedModel model{fx().unet, fx().schedule, fx().ref.get("sample.cond"), fx().ref.get("sample.uncond"), 7.5f, arena,
                      &calls, Prediction::V};
};

void run_k_case(const std::string& id, SigmaScheduler sched, Tensor (*sampler)(const KSamplerArgs&, Tensor)) {
    Guided g;
    const std::vector<float> sigmas = make_sigmas(fx().schedule, sched, 10);
    const Tensor& ref_sigmas = fx().ref.get("sample." + id + ".sigmas");
    ASSERT_EQ(static_cast<int64_t>(sigmas.size()), ref_sigmas.numel());
    for (size_t i = 0; i < sigmas.size(); ++i) EXPECT_NEAR(sigmas[i], ref_sigmas.f32()[i], 2e-6 * (1 + ref_sigmas.f32()[i]));
    std::vector<Tensor> steps_x{scaled(fx().ref.get("sample.x_T"), sigmas[0])};
    StepCallback cb = [&](int, int, const Tensor& x, const Tensor&) { steps_x.push_back(x); return true; };
    Tensor x0 = sampler(KSamplerArgs{make_cfg_denoiser(g.model), sigmas, cb}, steps_x.front());
    const double err = max_abs_diff(x0, fx().ref.get("sample." + id + ".x0"));
    std::printf("sd2 %s: x0 max abs error %.3g\n", id.c_str(), err);
    EXPECT_LT(err, kLatentTolerance);
    const Tensor& ref_steps = fx().ref.get("sample." + id + ".steps_x");
    for (int64_t i = 0; i < ref_steps.dim(0); ++i)
        EXPECT_LT(max_abs_diff(steps_x[static_cast<size_t>(i)], ref_steps.select(0, i).contiguous()), kLatentTolerance)
            << id << " step " << i;
    EXPECT_EQ(g.calls, 10);
}

}  // namespace

TEST(VPrediction, Euler) { run_k_case("k_euler", SigmaScheduler::Discrete, sample_euler); }
TEST(VPrediction, DpmPlusPlus2MKarras) { run_k_case("k_dpmpp_2m_karras", SigmaScheduler::Karras, sample_dpmpp_2m); }

TEST(VPrediction, DdimGuidesOnVAndStepsOnEps) {
    Guided g;
    DdimSchedule s = make_ddim_schedule(fx().schedule, 10, 0.0f);
    DdimResult r = sample_ddim(make_cfg_eps(g.model), s, fx().ref.get("sample.x_T"), 10, nullptr, nullptr, true);
    const double err = max_abs_diff(r.x, fx().ref.get("sample.ddim.x0"));
    std::printf("sd2 ddim: x0 max abs error %.3g\n", err);
    EXPECT_LT(err, kLatentTolerance);
    const Tensor& steps = fx().ref.get("sample.ddim.steps_pred_x0");
    for (int64_t i = 0; i < steps.dim(0); ++i)
        EXPECT_LT(max_abs_diff(r.steps_pred_x0[static_cast<size_t>(i)], steps.select(0, i).contiguous()), kLatentTolerance) << i;
    EXPECT_EQ(g.calls, 10);
}

TEST(VPrediction, EpsScalingsOnAVModelAreFarOff) {
    // The test above would pass vacuously if v and eps scalings gave similar results on this fixture.
    Guided g;
    g.model.prediction = Prediction::Eps;
    const std::vector<float> sigmas = make_sigmas(fx().schedule, SigmaScheduler::Discrete, 10);
    Tensor x0 = sample_euler(KSamplerArgs{make_cfg_denoiser(g.model), sigmas, nullptr},
                             scaled(fx().ref.get("sample.x_T"), sigmas[0]));
    EXPECT_GT(max_abs_diff(x0, fx().ref.get("sample.k_euler.x0")), 0.1);
}
