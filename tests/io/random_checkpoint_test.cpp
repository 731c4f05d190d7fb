// tests/io/random_checkpoint_test.cpp — make-random writes the real key layout: the SD 1.5 layout
// equals ../shared/fixtures/keys/sd15-keys.txt name for name, dtype for dtype, shape for shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "io/checkpoint.h"
#include "io/random_checkpoint.h"
#include "test_support.h"

using namespace difu;

namespace {
// The key list of a released file and make-random's layout for an architecture, as "name DTYPE [shape]" lines.
void expect_layout_equals_key_list(const std::string& arch, DType dtype, const std::string& key_list) {
    std::ifstream in(test::fixture_path("keys/" + key_list));
    std::vector<std::string> real;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        const size_t shape_at = line.find('[');  // the lists write "[77, 1024]" or "[77,1024]"
        if (shape_at != std::string::npos)
            line.erase(std::remove(line.begin() + static_cast<std::ptrdiff_t>(shape_at), line.end(), ' '), line.end());
        real.push_back(line);
    }
    std::vector<std::string> ours;
    for (const auto& t : random_checkpoint_layout(architecture_config(arch), dtype)) {
        std::string shape = shape_str(t.spec.shape);  // "[a, b]" -> "[a,b]" as in the key list
        shape.erase(std::remove(shape.begin(), shape.end(), ' '), shape.end());
        ours.push_back(t.spec.name + " " + std::string(dtype_name(t.dtype)) + " " + shape);
    }
    ASSERT_EQ(ours.size(), real.size()) << arch;
    for (size_t i = 0; i < ours.size(); ++i) ASSERT_EQ(ours[i], real[i]) << arch << " " << i;
}
}  // namespace

TEST(MakeRandom, Sd15LayoutEqualsRealKeyList) { expect_layout_equals_key_list("sd15", DType::F16, "sd15-keys.txt"); }

TEST(MakeRandom, Sd21LayoutsEqualRealKeyList) {
    // v2-1_768-ema-pruned.safetensors is all F32; 512-base and 768-v share the layout.
    expect_layout_equals_key_list("sd21", DType::F32, "sd21-keys.txt");
    expect_layout_equals_key_list("sd21-v", DType::F32, "sd21-keys.txt");
    EXPECT_EQ(architecture_config("sd21-v").schedule.prediction, Prediction::V);
    EXPECT_EQ(architecture_config("sd21-v").default_size(), 768);
    EXPECT_EQ(architecture_config("sd21").default_size(), 512);
}

TEST(MakeRandom, SdxlLayoutsEqualRealKeyLists) {
    expect_layout_equals_key_list("sdxl", DType::F16, "sdxl-base-keys.txt");
    expect_layout_equals_key_list("sdxl-refiner", DType::F16, "sdxl-refiner-keys.txt");
}

TEST(MakeRandom, EveryArchitectureWritesAFileThatLoads) {
    for (const std::string& arch : architecture_names()) {
        ModelConfig cfg = architecture_config(arch);
        if (arch != "tiny") {  // full size is gigabytes: shrink the widths, keep every kind of tensor
            cfg.unet.model_channels = 64;
            cfg.unet.context_dim = 0;
            for (TextConfig& t : cfg.text_encoders) {
                t.width = 64; t.heads = 1; t.intermediate = 256; t.layers = 2; t.vocab_size = 1000;
                if (t.pooled_dim > 0) t.pooled_dim = 64;
                cfg.unet.context_dim += t.width;
            }
            if (cfg.unet.adm_in_channels > 0) cfg.unet.adm_in_channels = 64 + (arch == "sdxl" ? 6 : 5) * 256;
            cfg.vae.ch = 32;
            cfg.text().layer = 1;
        }
        const std::string path = test::temp_dir() + "/" + arch + ".safetensors";
        write_random_checkpoint(path, cfg, DType::F16, 1);
        Checkpoint ck = load_checkpoint(path);
        EXPECT_EQ(ck.tensors.size(), random_checkpoint_layout(cfg, DType::F16).size()) << arch;
    }
}

TEST(MakeRandom, TinyCheckpointLoadsAndLooksLikeAModel) {
    const std::string path = test::temp_dir() + "/tiny-random.safetensors";
    write_random_checkpoint(path, architecture_config("tiny"), DType::F16, 7);
    Checkpoint ck = load_checkpoint(path);
    ModelConfig cfg = detect_model(ck);
    EXPECT_EQ(cfg.family, ModelFamily::SD1);
    EXPECT_EQ(cfg.unet.model_channels, 32);
    EXPECT_TRUE(check_keys(ck, cfg).complete());
    EXPECT_TRUE(check_keys(ck, cfg).unknown.empty());
    // The schedule is the real one: alphas_cumprod[999] of SD's scaled-linear betas is 0.0047.
    Tensor ac = ck.get("alphas_cumprod").to(DType::F32);
    // Stored as f16: one ulp is 4.9e-4 just below 1 and 3.9e-6 near 0.0047.
    EXPECT_NEAR(ac.f32()[999], 0.004660, 4e-6);
    EXPECT_NEAR(ac.f32()[0], 1 - 0.00085, 4.9e-4);
    // A conv weight is uniform in +-1/sqrt(fan_in): mean ~0, not constant, bounded.
    Tensor w = ck.get("model.diffusion_model.input_blocks.0.0.weight").to(DType::F32);  // [32, 4, 3, 3]
    double sum = 0, sq = 0, mx = 0;
    for (float v : w.f32()) { sum += v; sq += v * v; mx = std::max(mx, double(std::fabs(v))); }
    const double n = w.numel(), bound = 1 / std::sqrt(36.0);
    EXPECT_LT(std::fabs(sum / n), 0.02);
    EXPECT_NEAR(std::sqrt(sq / n), bound / std::sqrt(3.0), 0.02);  // std of U(-a, a) = a / sqrt 3
    EXPECT_LE(mx, bound * 1.001);
    // Deterministic per seed.
    const std::string again = test::temp_dir() + "/tiny-random-2.safetensors";
    write_random_checkpoint(again, architecture_config("tiny"), DType::F16, 7);
    Checkpoint ck2 = load_checkpoint(again);
    EXPECT_EQ(test::max_abs_diff(ck2.get("model.diffusion_model.out.2.weight"), ck.get("model.diffusion_model.out.2.weight")), 0.0);
}
