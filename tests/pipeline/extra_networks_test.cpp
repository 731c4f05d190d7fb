// tests/pipeline/extra_networks_test.cpp — webui's <lora:...> prompt tags, and LoRAs switched between
// requests of one loaded pipeline without drifting its weights.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/safetensors_writer.h"
#include "pipeline/extra_networks.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

TEST(ExtraNetworks, TagsAreCutAndTheirWeightsReadAsWebui) {
    EXPECT_EQ(strip_extra_networks("a cat <lora:x:0.5>, <hypernet:y:1> smiling"), "a cat ,  smiling");  // spaces stay
    const std::string dir = test::temp_dir() + "/lora-lib";
    std::filesystem::create_directories(dir + "/sub");
    for (const char* name : {"sub/style.safetensors", "detail.pt"}) {
        std::filesystem::remove(dir + "/" + name);
        std::filesystem::create_symlink(fixture_path("sd1-tiny-lora/lora_kohya.safetensors"), dir + "/" + name);
    }
    LoraLibrary lib(dir);
    EXPECT_EQ(lib.entries().size(), 2u);
    GenerateRequest r;
    r.prompt = "<lora:style> a <lora:detail:0.5:0.25> b <lyco:style:te=0.3:unet=0.7> <lora:detail:unet=2>";
    add_prompt_loras(r, &lib);
    ASSERT_EQ(r.loras.size(), 4u);
    EXPECT_EQ(r.loras[0], (LoraUse{dir + "/sub/style.safetensors", 1.0f, 1.0f}));
    EXPECT_EQ(r.loras[1], (LoraUse{dir + "/detail.pt", 0.5f, 0.25f}));  // positional: te, then unet
    EXPECT_EQ(r.loras[2], (LoraUse{dir + "/sub/style.safetensors", 0.3f, 0.7f}));
    EXPECT_EQ(r.loras[3], (LoraUse{dir + "/detail.pt", 1.0f, 2.0f}));
    for (const char* bad : {"<lora:style:x>", "<lora:style:1:1:8>", "<lora::1>", "<lora:style:dyn=4>", "<lora:nope>"}) {
        GenerateRequest b;
        b.prompt = bad;
        EXPECT_THROW(add_prompt_loras(b, &lib), Error) << bad;
    }
    EXPECT_EQ(parse_lora_option("/x/a.safetensors:0.7"), (LoraUse{"/x/a.safetensors", 0.7f, 0.7f}));
    EXPECT_EQ(parse_lora_option("/x/a.safetensors"), (LoraUse{"/x/a.safetensors", 1.0f, 1.0f}));
}

TEST(ExtraNetworks, ALoadedPipelineSwitchesLorasWithoutDrift) {
    // A server's pipeline: request 1 with a LoRA, request 2 without, request 3 with it again: 2 equals a
    // fresh pipeline's image, 3 equals 1 (the merge always starts from the file's weights).
    GenerateRequest r;
    r.prompt = "a lighthouse";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 3;
    DiffusionPipeline fresh(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    const auto plain = fresh.generate(r).images.at(0).image.pixels;
    DiffusionPipeline served(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest with = r;
    with.loras = {{fixture_path("sd1-tiny-lora/lora_kohya.safetensors"), 1.0f, 1.0f}};
    const auto first = served.generate(with).images.at(0).image.pixels;
    EXPECT_NE(first, plain);
    EXPECT_EQ(served.generate(r).images.at(0).image.pixels, plain);
    EXPECT_EQ(served.generate(with).images.at(0).image.pixels, first);
    with.loras[0].unet = 0.0f;  // text encoder only
    with.loras[0].te = 0.0f;    // ... and nothing: the plain image
    EXPECT_EQ(served.generate(with).images.at(0).image.pixels, plain);
}

TEST(ExtraNetworks, LcmLoraRunsFourStepsAtCfgOne) {
    // An LCM-LoRA's shape: UNet-only modules on attention projections and on resnet 3x3 convs (LoCon),
    // used with the LCM sampler, 4 steps, cfg 1 (one UNet pass per step).
    const std::string path = test::temp_dir() + "/lcm-lora.safetensors";
    auto values = [](Shape shape, uint32_t seed) {
        Tensor t = Tensor::empty(shape);
        for (float& v : t.f32_mut()) v = static_cast<float>((seed = seed * 1664525u + 1013904223u) >> 8) / (1u << 24) * 0.2f - 0.1f;
        return t;
    };
    write_safetensors(path, {{"lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight", values({8, 32, 3, 3}, 1)},
                             {"lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight", values({32, 8, 1, 1}, 2)},
                             {"lora_unet_down_blocks_0_resnets_0_conv1.alpha", Tensor::from_f32({}, std::vector<float>{8.0f})},
                             {"lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight", values({8, 128}, 3)},
                             {"lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight", values({64, 8}, 4)}});
    DiffusionPipeline pipe(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r;
    r.prompt = "a fox";
    r.width = r.height = 64;
    r.steps = 4;
    r.cfg_scale = 1.0f;
    r.sampler = "lcm";
    r.seed = 8;
    int steps = 0;
    const auto plain = pipe.generate(r).images.at(0).image.pixels;
    r.loras = {{path, 1.0f, 1.0f}};
    const GenerateResult lcm = pipe.generate(r, [&](const ProgressInfo& p) {
        if (p.phase == "sampling") steps = p.step;
        return true;
    });
    EXPECT_EQ(steps, 4);
    EXPECT_TRUE(lcm.lora_unmatched.empty());
    EXPECT_NE(lcm.images.at(0).image.pixels, plain);
    EXPECT_EQ(pipe.generate(r).images.at(0).image.pixels, lcm.images.at(0).image.pixels);
}
