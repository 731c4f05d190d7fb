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

namespace {

// Small deterministic "random" values in [-0.5, 0.5).
Tensor filled(const Shape& shape, uint32_t seed) {
    Tensor t = Tensor::empty(shape);
    uint32_t x = seed * 2654435761u + 1;
    for (float& v : t.f32_mut()) {
        x = x * 1664525u + 1013904223u;
        v = static_cast<float>(x >> 8) / static_cast<float>(1u << 24) - 0.5f;
    }
    return t;
}

// W' - W for one module merged alone at multiplier m.
Tensor merged_delta(const LoraModule& module, const std::string& key, float m) {
    LoraFile f{"synthetic.safetensors", "kohya", {module}};
    const LoraMerge merge = merge_loras(base(), detect_model(base()), {{&f, m, m}});
    const Tensor before = base().get(key).to(DType::F32);
    Tensor d = merge.weights.at(key).clone();
    for (int64_t i = 0; i < d.numel(); ++i) d.f32_mut()[i] -= before.f32()[i];
    return d;
}

constexpr const char* kConvKey = "model.diffusion_model.input_blocks.1.0.in_layers.2.weight";  // [32, 32, 3, 3]
constexpr const char* kConvName = "lora_unet_down_blocks_0_resnets_0_conv1";
constexpr const char* kLinearKey = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight";  // [32, 32]
constexpr const char* kLinearName = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
constexpr double kDeltaTolerance = 1e-6;  // fp32 sums of a handful of products of values < 0.5

}  // namespace

TEST(Lora, LoConKernelsMergeAsUpTimesDownPerKernelTap) {
    LoraModule m{kConvName};
    m.down = filled({4, 32, 3, 3}, 1);
    m.up = filled({32, 4, 1, 1}, 2);
    m.alpha = 2.0f;
    const Tensor d = merged_delta(m, kConvKey, 0.7f);
    double worst = 0;
    for (int64_t o = 0; o < 32; ++o)
        for (int64_t i = 0; i < 32 * 9; ++i) {  // (in, y, x) flattened
            double want = 0;
            for (int64_t k = 0; k < 4; ++k) want += double(m.up.f32()[o * 4 + k]) * m.down.f32()[k * 32 * 9 + i];
            worst = std::max(worst, std::fabs(d.f32()[o * 32 * 9 + i] - 0.7 * 0.5 * want));
        }
    EXPECT_LT(worst, kDeltaTolerance);
}

TEST(Lora, LohaIsTheHadamardProductOfItsTwoLowRankProducts) {
    LoraModule m{kLinearName, LoraKind::LoHa};
    m.w1a = filled({32, 2}, 3);
    m.w1b = filled({2, 32}, 4);
    m.w2a = filled({32, 2}, 5);
    m.w2b = filled({2, 32}, 6);
    m.alpha = 1.0f;  // scale 1 / rank 2
    const Tensor d = merged_delta(m, kLinearKey, 1.0f);
    double worst = 0;
    for (int64_t o = 0; o < 32; ++o)
        for (int64_t i = 0; i < 32; ++i) {
            double a = 0, b = 0;
            for (int64_t k = 0; k < 2; ++k) {
                a += double(m.w1a.f32()[o * 2 + k]) * m.w1b.f32()[k * 32 + i];
                b += double(m.w2a.f32()[o * 2 + k]) * m.w2b.f32()[k * 32 + i];
            }
            worst = std::max(worst, std::fabs(d.f32()[o * 32 + i] - 0.5 * a * b));
        }
    EXPECT_LT(worst, kDeltaTolerance);
}

TEST(Lora, LokrIsTheKroneckerProductOfItsFactorsForLinearAndConvWeights) {
    // linear [32, 32] = w1 [4, 2] (x) (w2a [8, 2] . w2b [2, 16]); scale alpha / w2b rows
    LoraModule m{kLinearName, LoraKind::LoKr};
    m.w1 = filled({4, 2}, 7);
    m.w2a = filled({8, 2}, 8);
    m.w2b = filled({2, 16}, 9);
    m.alpha = 4.0f;
    Tensor d = merged_delta(m, kLinearKey, 1.0f);
    double worst = 0;
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 2; ++j)
            for (int64_t k = 0; k < 8; ++k)
                for (int64_t l = 0; l < 16; ++l) {
                    double w2 = 0;
                    for (int64_t r = 0; r < 2; ++r) w2 += double(m.w2a.f32()[k * 2 + r]) * m.w2b.f32()[r * 16 + l];
                    worst = std::max(worst, std::fabs(d.f32()[(i * 8 + k) * 32 + j * 16 + l] - 2.0 * m.w1.f32()[i * 2 + j] * w2));
                }
    EXPECT_LT(worst, kDeltaTolerance);
    // conv [32, 32, 3, 3] = w1 [2, 4] (x) w2 [16, 8, 3, 3] (torch.kron of w1[:, :, None, None]); no alpha: scale 1
    LoraModule c{kConvName, LoraKind::LoKr};
    c.w1 = filled({2, 4}, 10);
    c.w2 = filled({16, 8, 3, 3}, 11);
    d = merged_delta(c, kConvKey, 1.0f);
    worst = 0;
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 4; ++j)
            for (int64_t k = 0; k < 16; ++k)
                for (int64_t l = 0; l < 8; ++l)
                    for (int64_t x = 0; x < 9; ++x)
                        worst = std::max(worst, std::fabs(d.f32()[((i * 16 + k) * 32 + j * 8 + l) * 9 + x] -
                                                          double(c.w1.f32()[i * 4 + j]) * c.w2.f32()[(k * 8 + l) * 9 + x]));
    EXPECT_LT(worst, kDeltaTolerance);
}

TEST(Lora, LycorisFilesReadByTheirKeys) {
    const std::string path = test::temp_dir() + "/loha.safetensors";
    write_safetensors(path, {{std::string(kLinearName) + ".hada_w1_a", filled({32, 2}, 1)},
                             {std::string(kLinearName) + ".hada_w1_b", filled({2, 32}, 2)},
                             {std::string(kLinearName) + ".hada_w2_a", filled({32, 2}, 3)},
                             {std::string(kLinearName) + ".hada_w2_b", filled({2, 32}, 4)},
                             {std::string(kLinearName) + ".alpha", Tensor::from_f32({}, std::vector<float>{1.0f})}});
    const LoraFile f = read_lora(path);
    ASSERT_EQ(f.modules.size(), 1u);
    EXPECT_EQ(f.modules[0].kind, LoraKind::LoHa);
    EXPECT_FLOAT_EQ(f.modules[0].scale(), 0.5f);
    const std::string tucker = test::temp_dir() + "/tucker.safetensors";
    write_safetensors(tucker, {{std::string(kLinearName) + ".hada_t1", filled({2, 2, 3, 3}, 1)}});
    try {
        read_lora(tucker);
        ADD_FAILURE() << "a Tucker LoHa was read";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("hada_t1"), std::string::npos) << e.what();
    }
}

TEST(Lora, OpenClipTowersTakeQKVModulesAsRowThirdsOfInProj) {
    // A kohya SDXL LoRA names bigG's attention as CLIPTextModel does (lora_te2_..._self_attn_k_proj); the
    // file keeps OpenCLIP's fused in_proj, so k_proj is its middle third of rows, and nothing else moves.
    const Checkpoint xl = load_checkpoint(fixture_path("sdxl-tiny/model.safetensors"));
    const ModelConfig cfg = detect_model(xl);
    const std::string key = "conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight";
    const int64_t w = cfg.text_encoders[1].width;
    LoraModule m{"lora_te2_text_model_encoder_layers_1_self_attn_k_proj"};
    m.down = filled({2, w}, 21);
    m.up = filled({w, 2}, 22);
    LoraFile f{"xl.safetensors", "kohya", {m}};
    const LoraMerge merge = merge_loras(xl, cfg, {{&f, 1.0f, 0.0f}});  // te multiplier 1, unet 0
    ASSERT_EQ(merge.weights.count(key), 1u);
    const Tensor before = xl.get(key).to(DType::F32), after = merge.weights.at(key);
    double outside = 0, inside = 0;
    for (int64_t o = 0; o < 3 * w; ++o)
        for (int64_t i = 0; i < w; ++i) {
            const double d = after.f32()[o * w + i] - before.f32()[o * w + i];
            if (o < w || o >= 2 * w) {
                outside = std::max(outside, std::fabs(d));
                continue;
            }
            double want = 0;
            for (int64_t k = 0; k < 2; ++k) want += double(m.up.f32()[(o - w) * 2 + k]) * m.down.f32()[k * w + i];
            inside = std::max(inside, std::fabs(d - want));
        }
    EXPECT_EQ(outside, 0.0);
    EXPECT_LT(inside, kDeltaTolerance);
    // SD 2.x's single OpenCLIP tower is kohya's lora_te_ (and lora_te1_, diffusers' name for it)
    const Checkpoint sd2 = load_checkpoint(fixture_path("sd2-tiny-v/model.safetensors"));
    const auto targets = lora_targets(sd2, detect_model(sd2));
    for (const char* name : {"lora_te_text_model_encoder_layers_0_self_attn_q_proj", "lora_te1_text_model_encoder_layers_0_mlp_fc2"})
        EXPECT_TRUE(targets.count(name)) << name;
    EXPECT_EQ(targets.at("lora_te_text_model_encoder_layers_0_self_attn_v_proj").row0, 2 * detect_model(sd2).text().width);
}

namespace {

// Column norms (per input channel: over the rows and the kernel taps) or row norms of a [rows, cols] matrix.
std::vector<float> norms(const Tensor& w, int64_t in_channels, bool per_row) {
    const int64_t rows = w.dim(0), cols = w.numel() / rows, kernel = cols / in_channels;
    std::vector<double> n(static_cast<size_t>(per_row ? rows : in_channels), 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) n[static_cast<size_t>(per_row ? r : c / kernel)] += std::pow(w.f32()[r * cols + c], 2);
    std::vector<float> out;
    for (double v : n) out.push_back(static_cast<float>(std::sqrt(v)));
    return out;
}

}  // namespace

TEST(Lora, DoraRescalesTheUpdatedWeightToItsMagnitudesAsWebui) {
    // webui (NetworkModule.apply_weight_decompose): V = W + up·down, W' = W + (V m / ||V|| - W) · scale · mult.
    // Two checks that need no copy of the formula: with m = ||V|| DoRA is plain LoRA, and W' - W is then
    // scale · mult · up·down; with m = 2 ||V|| the merged columns (scale 1, mult 1) are exactly 2 V.
    for (const char* key : {kLinearKey, kConvKey}) {
        const bool conv = std::string(key) == kConvKey;
        LoraModule m{conv ? kConvName : kLinearName};
        m.down = conv ? filled({4, 32, 3, 3}, 7) : filled({4, 32}, 7);
        m.up = conv ? filled({32, 4, 1, 1}, 8) : filled({32, 4}, 8);
        m.alpha = 4.0f;  // scale 1
        const Tensor plain = merged_delta(m, key, 1.0f);  // = up·down
        Tensor v = base().get(key).to(DType::F32).clone();
        for (int64_t i = 0; i < v.numel(); ++i) v.f32_mut()[i] += plain.f32()[i];
        for (bool per_row : {false, true}) {  // kohya's [1, in(, 1, 1)] and LyCORIS / PEFT's [out, 1(, 1, 1)]
            const std::vector<float> n = norms(v, 32, per_row);
            const Shape shape = per_row ? (conv ? Shape{32, 1, 1, 1} : Shape{32, 1}) : (conv ? Shape{1, 32, 1, 1} : Shape{1, 32});
            m.dora_scale = Tensor::from_f32(shape, n);
            const Tensor same = merged_delta(m, key, 1.0f);
            EXPECT_LT(test::max_abs_diff(same, plain), 1e-5) << key << (per_row ? " per row" : " per column");
            std::vector<float> doubled = n;
            for (float& x : doubled) x *= 2;
            m.dora_scale = Tensor::from_f32(shape, doubled);
            Tensor merged = merged_delta(m, key, 1.0f);
            const Tensor w = base().get(key).to(DType::F32);
            double worst = 0;  // W + delta - 2 V
            for (int64_t i = 0; i < merged.numel(); ++i) worst = std::max(worst, std::fabs(double(merged.f32()[i]) + w.f32()[i] - 2 * v.f32()[i]));
            EXPECT_LT(worst, 1e-5) << key;
        }
        m.dora_scale = Tensor::from_f32({1, 5}, std::vector<float>(5, 1.0f));  // fits neither
        EXPECT_THROW(merged_delta(m, key, 1.0f), Error);
    }
}

TEST(Lora, DoraFilesReadTheirMagnitudes) {
    const std::string path = test::temp_dir() + "/dora.safetensors";
    write_safetensors(path, {{std::string(kLinearName) + ".lora_down.weight", filled({4, 32}, 1)},
                             {std::string(kLinearName) + ".lora_up.weight", filled({32, 4}, 2)},
                             {std::string(kLinearName) + ".dora_scale", filled({1, 32}, 3)}});
    const LoraFile f = read_lora(path);
    ASSERT_EQ(f.modules.size(), 1u);
    ASSERT_TRUE(f.modules[0].dora_scale.defined());
    EXPECT_EQ(f.modules[0].dora_scale.shape(), (Shape{1, 32}));
}

TEST(Lora, FullAndNormDifferencesAddToWeightsAndBiases) {
    // LyCORIS full modules (diff, diff_b) and norm modules (w_norm, b_norm): W' = W + m · diff, b' = b + m · diff_b.
    struct Case {
        const char* name;
        const char* weight;  // checkpoint key
    };
    const Case cases[] = {
        {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0",
         "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight"},
        {"lora_unet_down_blocks_0_resnets_0_norm1", "model.diffusion_model.input_blocks.1.0.in_layers.0.weight"},
        {"lora_te_text_model_final_layer_norm", "cond_stage_model.transformer.text_model.final_layer_norm.weight"},
    };
    for (const Case& c : cases) {
        const Tensor w = base().get(c.weight).to(DType::F32);
        std::string bias_key = c.weight;
        bias_key.replace(bias_key.rfind("weight"), 6, "bias");
        const Tensor b = base().get(bias_key).to(DType::F32);
        LoraModule m{c.name, LoraKind::Full};
        m.diff = filled(w.shape(), 11);
        m.diff_b = filled(b.shape(), 12);
        LoraFile f{"full.safetensors", "kohya", {m}};
        const LoraMerge merge = merge_loras(base(), detect_model(base()), {{&f, 0.5f, 0.5f}});
        const Tensor& w2 = merge.weights.at(c.weight);
        const Tensor& b2 = merge.weights.at(bias_key);
        for (int64_t i = 0; i < w.numel(); ++i) ASSERT_FLOAT_EQ(w2.f32()[i], w.f32()[i] + 0.5f * m.diff.f32()[i]) << c.name;
        for (int64_t i = 0; i < b.numel(); ++i) ASSERT_FLOAT_EQ(b2.f32()[i], b.f32()[i] + 0.5f * m.diff_b.f32()[i]) << c.name;
    }
    // Read from a file by their keys.
    const std::string path = test::temp_dir() + "/full.safetensors";
    write_safetensors(path, {{std::string(cases[1].name) + ".w_norm", filled({32}, 1)}, {std::string(cases[1].name) + ".b_norm", filled({32}, 2)}});
    const LoraFile f = read_lora(path);
    ASSERT_EQ(f.modules.size(), 1u);
    EXPECT_EQ(f.modules[0].kind, LoraKind::Full);
    EXPECT_TRUE(f.modules[0].diff.defined() && f.modules[0].diff_b.defined());
}
