// tests/pipeline/conditioning_test.cpp — prompt -> context as webui does it: unweighted prompts are
// the plain CLIP output, weights scale tokens and the chunk mean is restored, long prompts concatenate.
#include <gtest/gtest.h>

#include <cmath>

#include "io/checkpoint.h"
#include "pipeline/conditioning.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {
struct Fixture {
    Checkpoint model = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    ClipTextModel clip{model, detect_model(model).text()};
    const ClipTokenizer& tok = ClipTokenizer::default_instance();
};
Fixture& fx() {
    static Fixture f;
    return f;
}
double mean(const Tensor& t) {
    double s = 0;
    for (float v : t.f32()) s += v;
    return s / static_cast<double>(t.numel());
}
}  // namespace

TEST(Conditioning, UnweightedPromptIsTheReferenceEncoding) {
    // The fixture's text.last_hidden_state[0] is the original FrozenCLIPEmbedder on this prompt.
    Checkpoint ref = load_checkpoint(fixture_path("sd1-tiny/ref.safetensors"));
    Arena a;
    Tensor ctx = encode_prompt(fx().clip, fx().tok, "a photograph of an astronaut riding a horse", 1, a);
    ASSERT_EQ(ctx.shape(), (Shape{1, 77, 128}));
    Tensor expected = ref.get("text.last_hidden_state").slice(0, 0, 1).contiguous();
    EXPECT_LT(max_abs_diff(ctx, expected), 2e-5);
}

TEST(Conditioning, WeightsScaleTokensAndRestoreTheMean) {
    Arena a;
    Tensor plain = encode_prompt(fx().clip, fx().tok, "a cat on a mat", 1, a);
    Tensor weighted = encode_prompt(fx().clip, fx().tok, "a (cat:1.5) on a mat", 1, a);
    EXPECT_NEAR(mean(weighted), mean(plain), 1e-6);  // the restored mean
    // Token 2 ("cat") was multiplied by 1.5 before the common rescale; "a" (token 1) only rescaled.
    const int64_t W = 128;
    const float* p = plain.data<float>();
    const float* w = weighted.data<float>();
    const double rescale = w[1 * W + 5] / p[1 * W + 5];
    for (int64_t i = 0; i < W; ++i) {
        EXPECT_NEAR(w[1 * W + i], p[1 * W + i] * rescale, 1e-5);
        EXPECT_NEAR(w[2 * W + i], p[2 * W + i] * 1.5 * rescale, 1e-5);
    }
}

TEST(Conditioning, LongPromptsConcatenateChunks) {
    std::string prompt;
    for (int i = 0; i < 40; ++i) prompt += "red cat, ";
    Arena a;
    Tensor ctx = encode_prompt(fx().clip, fx().tok, prompt, 1, a);
    EXPECT_EQ(ctx.dim(1) % 77, 0);
    EXPECT_GE(ctx.dim(1), 2 * 77);
    Tensor broken = encode_prompt(fx().clip, fx().tok, "a cat BREAK a dog", 2, a);
    EXPECT_EQ(broken.shape(), (Shape{1, 154, 128}));
}
