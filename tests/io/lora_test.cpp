// tests/io/lora_test.cpp — LoRA files (fixture sd1-tiny-lora: kohya and PEFT layouts of one random rank-4
// network, alpha 2) read, targeted at the model's own modules, and merged as kohya's merge_to: the merged
// weights against the fixture's, and the LoRA'd text encoder and UNet against the original code's outputs.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/lora_file.h"
#include "io/lora_merge.h"
#include "io/safetensors_writer.h"
#include "models/clip_text.h"
#include "models/unet/unet.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {

const Checkpoint& base() {
    static const Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    return ck;
}
const Checkpoint& ref() {
    static const Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny-lora/ref.safetensors"));
    return ck;
}
// The merged weights: fp32 sums of a rank-4 product in another order than torch's; |W| ~ 1.
constexpr double kMergeTolerance = 2e-6;
// cases.json: fp32 vs fp64 of the LoRA'd outputs is 1.2e-6 (text) and 2.2e-6 (UNet); the unmerged models'
// own tests hold 2e-5 (text) and 1e-4 (UNet).
constexpr double kTextTolerance = 2e-5, kUnetTolerance = 1e-4;

Checkpoint patched(const LoraMerge& m) {
    Checkpoint ck = base();
    for (const auto& [key, w] : m.weights) ck.tensors[key] = w;
    return ck;
}

}  // namespace

TEST(Lora, BothLayoutsReadToTheSameModules) {
    const LoraFile kohya = read_lora(fixture_path("sd1-tiny-lora/lora_kohya.safetensors"));
    const LoraFile peft = read_lora(fixture_path("sd1-tiny-lora/lora_peft.safetensors"));
    EXPECT_EQ(kohya.format, "kohya");
    EXPECT_EQ(peft.format, "peft");
    ASSERT_EQ(kohya.modules.size(), 96u);
    ASSERT_EQ(peft.modules.size(), 96u);
    for (const LoraModule& m : kohya.modules) {
        EXPECT_EQ(m.rank(), 4) << m.name;
        EXPECT_FLOAT_EQ(m.scale(), 0.5f) << m.name;  // alpha 2 / rank 4
    }
    for (const LoraModule& m : peft.modules) EXPECT_FLOAT_EQ(m.scale(), 0.5f) << m.name;  // from lora_adapter_metadata
}

TEST(Lora, EveryTargetOfTheFixtureIsFoundByItsKohyaName) {
    const auto targets = lora_targets(base(), detect_model(base()));
    std::ifstream tsv(fixture_path("sd1-tiny-lora/targets.tsv"));
    std::string line;
    std::getline(tsv, line);
    int rows = 0;
    while (std::getline(tsv, line)) {
        std::istringstream f(line);
        std::string component, module, kohya, peft, key;
        std::getline(f, component, '\t');
        std::getline(f, module, '\t');
        std::getline(f, kohya, '\t');
        std::getline(f, peft, '\t');
        std::getline(f, key, '\t');
        auto it = targets.find(kohya);
        ASSERT_NE(it, targets.end()) << kohya;
        EXPECT_EQ(it->second.key, key) << kohya;
        EXPECT_EQ(it->second.text, component == "text_encoder") << kohya;
        ++rows;
    }
    EXPECT_EQ(rows, 96);
}

TEST(Lora, MergedWeightsEqualTheReferenceMergeInBothLayouts) {
    const Checkpoint want = load_checkpoint(fixture_path("sd1-tiny-lora/merged_m1.0_changed.safetensors"));
    for (const char* file : {"lora_kohya.safetensors", "lora_peft.safetensors"}) {
        const LoraFile lora = read_lora(fixture_path(std::string("sd1-tiny-lora/") + file));
        const LoraMerge m = merge_loras(base(), detect_model(base()), {{&lora, 1.0f, 1.0f}});
        EXPECT_EQ(m.applied, 96u) << file;
        EXPECT_TRUE(m.unmatched.empty()) << file;
        ASSERT_EQ(m.weights.size(), want.tensors.size()) << file;
        double worst = 0;
        for (const auto& [key, w] : want.tensors) {
            ASSERT_TRUE(m.weights.count(key)) << key;
            worst = std::max(worst, max_abs_diff(m.weights.at(key), w));
        }
        EXPECT_LE(worst, kMergeTolerance) << file;
        std::printf("%s: merged weights, max abs error vs reference merge %.3g\n", file, worst);
    }
}

TEST(Lora, LoraTextEncoderAndUnetMatchTheOriginalCodeAtBothMultipliers) {
    const LoraFile lora = read_lora(fixture_path("sd1-tiny-lora/lora_kohya.safetensors"));
    const ModelConfig cfg = detect_model(base());
    for (float m : {1.0f, 0.6f}) {
        const std::string tag = m == 1.0f ? "m1.0." : "m0.6.";
        const Checkpoint ck = patched(merge_loras(base(), cfg, {{&lora, m, m}}));
        ClipTextModel clip(ck, cfg.text());
        Arena arena;
        const std::vector<int> ids = test::token_ids(ref().get("text.tokens"));
        const double text_err = max_abs_diff(clip.forward(ids, 2, 1, arena), ref().get(tag + "text.last_hidden_state"));
        EXPECT_LT(text_err, kTextTolerance) << tag;
        UNetModel unet(ck, cfg);
        const std::vector<float> t = test::timesteps_of(ref().get("unet.t"));
        const double unet_err = max_abs_diff(unet.forward(ref().get("unet.x"), t, ref().get("unet.context"), arena),
                                             ref().get(tag + "unet.eps"));
        EXPECT_LT(unet_err, kUnetTolerance) << tag;
        std::printf("LoRA %s text %.3g, unet eps %.3g (max abs error vs reference)\n", tag.c_str(), text_err, unet_err);
    }
}

TEST(Lora, ForeignAndBrokenLorasAreRefusedWithTheirName) {
    const ModelConfig cfg = detect_model(base());
    const LoraFile lora = read_lora(fixture_path("sd1-tiny-lora/lora_kohya.safetensors"));
    LoraFile foreign = lora;  // an SDXL-shaped module under a name this model has: the shapes do not fit
    foreign.modules.resize(1);
    foreign.modules[0].down = Tensor::empty({4, 2048});
    try {
        merge_loras(base(), cfg, {{&foreign, 1.0f, 1.0f}});
        ADD_FAILURE() << "a mis-shaped module was merged";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("another model family"), std::string::npos) << e.what();
    }
    LoraFile none = lora;
    for (LoraModule& m : none.modules) m.name = "lora_te2_" + m.name;
    EXPECT_THROW(merge_loras(base(), cfg, {{&none, 1.0f, 1.0f}}), Error);
    LoraFile some = lora;  // unknown modules beside known ones are listed, not fatal (webui skips them)
    some.modules.push_back(some.modules.front());
    some.modules.back().name = "lora_unet_no_such_module";
    EXPECT_EQ(merge_loras(base(), cfg, {{&some, 1.0f, 1.0f}}).unmatched,
              std::vector<std::string>{"lora_kohya.safetensors: lora_unet_no_such_module"});
    EXPECT_THROW(read_lora(fixture_path("sd1-tiny/model.safetensors")), Error);  // a model, not a LoRA
    const std::string half = test::temp_dir() + "/half-lora.safetensors";  // down without its up
    write_safetensors(half, {{"lora_unet_x.lora_down.weight", Tensor::empty({4, 8})}});
    EXPECT_THROW(read_lora(half), Error);
}
