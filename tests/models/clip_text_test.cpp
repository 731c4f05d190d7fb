// tests/models/clip_text_test.cpp — the CLIP text encoder against the original openai CLIP text
// tower run by the fixture harness (sd1-tiny, cases.json "text_encoder").
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "io/checkpoint.h"
#include "io/model_config.h"
#include "models/clip_text.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {

struct TextFixture {
    Checkpoint ref = load_checkpoint(fixture_path("sd1-tiny/ref.safetensors"));
    std::vector<int> ids() const {
        const Tensor& t = ref.get("text.tokens", {2, 77});
        std::vector<int> v;
        for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<int>(t.data<int64_t>()[i]));
        return v;
    }
};

// cases.json tolerances: the fp32 reference's own rounding vs float64 is ~1e-6 (max abs); the issue
// asks for <= 1e-4. We hold 2e-5: ~20x the reference's rounding, far below any real bug (>1e-2).
constexpr double kTextTolerance = 2e-5;

}  // namespace

TEST(ClipText, LastHiddenStateMatchesReference) {
    TextFixture f;
    Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    ClipTextModel clip(ck, detect_model(ck).text());
    Arena arena;
    std::vector<Tensor> hidden;
    Tensor out = clip.forward(f.ids(), 2, /*clip_skip=*/1, arena, &hidden);
    const double err = max_abs_diff(out, f.ref.get("text.last_hidden_state"));
    EXPECT_LT(err, kTextTolerance);
    std::printf("text.last_hidden_state: max abs error vs reference %.3g\n", err);
    const Tensor& ref_hidden = f.ref.get("text.hidden_states");  // [layers + 1, 2, 77, W]
    ASSERT_EQ(static_cast<int64_t>(hidden.size()), ref_hidden.dim(0));
    for (size_t l = 0; l < hidden.size(); ++l)
        EXPECT_LT(max_abs_diff(hidden[l], ref_hidden.select(0, static_cast<int64_t>(l)).contiguous()), kTextTolerance) << l;
}

TEST(ClipText, ClipSkipTwoIsPenultimateLayerThroughFinalNorm) {
    TextFixture f;
    Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    ClipTextModel clip(ck, detect_model(ck).text());
    Arena arena;
    Tensor out = clip.forward(f.ids(), 2, /*clip_skip=*/2, arena);
    EXPECT_LT(max_abs_diff(out, f.ref.get("text.penultimate_ln")), kTextTolerance);
}

TEST(ClipText, Fp16WeightsMatchFp16Reference) {
    TextFixture f;
    Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model-fp16.safetensors"));
    ClipTextModel clip(ck, detect_model(ck).text());
    Arena arena;
    Tensor out = clip.forward(f.ids(), 2, 1, arena);
    EXPECT_LT(max_abs_diff(out, f.ref.get("text.last_hidden_state_f16w")), kTextTolerance);
}

TEST(ClipText, RejectsBadTokenIdsAndClipSkip) {
    Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    ClipTextModel clip(ck, detect_model(ck).text());
    Arena arena;
    std::vector<int> ids(77, 49407);
    ids[3] = 49408;
    EXPECT_THROW(clip.forward(ids, 1, 1, arena), Error);
    ids[3] = 5;
    EXPECT_THROW(clip.forward(ids, 1, 0, arena), Error);
    EXPECT_THROW(clip.forward(ids, 1, 3, arena), Error);  // the tiny model has 2 layers
    EXPECT_THROW(clip.forward(std::vector<int>(76, 1), 1, 1, arena), Error);
}
