// tests/io/model_detect_test.cpp — family detection and hyper-parameter inference from key sets:
// the fixtures, and the real key lists of full-size SD 1.5 and SD 2.1 checkpoints.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/model_config.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

// ../shared/fixtures/keys/*.txt: "name DTYPE [d0,d1,...]" per line -> a Checkpoint of meta tensors.
Checkpoint checkpoint_from_key_list(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    Checkpoint ck;
    ck.path = path;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::istringstream ls(line);
        std::string name, dtype, rest;
        ls >> name >> dtype;
        std::getline(ls, rest);
        Shape shape;
        std::string digits;
        for (char ch : rest) {
            if (std::isdigit(static_cast<unsigned char>(ch))) digits += ch;
            else if (!digits.empty()) { shape.push_back(std::stoll(digits)); digits.clear(); }
        }
        ck.tensors.emplace(name, Tensor::meta(shape, *dtype_from_name(dtype)));
    }
    return ck;
}

}  // namespace

TEST(ModelDetect, Sd15KeyListIsRecognisedCompletely) {
    Checkpoint ck = checkpoint_from_key_list(fixture_path("keys/sd15-keys.txt"));
    ModelConfig cfg = infer_config(ck);
    EXPECT_EQ(cfg.family, ModelFamily::SD1);
    EXPECT_TRUE(cfg.supported());
    EXPECT_EQ(cfg.unet.model_channels, 320);
    EXPECT_EQ(cfg.unet.channel_mult, (std::vector<int>{1, 2, 4, 4}));
    EXPECT_EQ(cfg.unet.num_res_blocks, 2);
    EXPECT_EQ(cfg.unet.attention_resolutions(), (std::vector<int>{1, 2, 4}));  // v1-inference.yaml: 4, 2, 1
    EXPECT_EQ(cfg.unet.transformer_depth, (std::vector<int>{1, 1, 1, 0}));
    EXPECT_EQ(cfg.unet.context_dim, 768);
    EXPECT_EQ(cfg.unet.num_heads, 8);
    EXPECT_FALSE(cfg.unet.use_linear_in_transformer);
    EXPECT_EQ(cfg.vae.ch, 128);
    EXPECT_EQ(cfg.vae.ch_mult, (std::vector<int>{1, 2, 4, 4}));
    EXPECT_EQ(cfg.vae.num_res_blocks, 2);
    EXPECT_EQ(cfg.vae.z_channels, 4);
    EXPECT_EQ(cfg.text().width, 768);
    EXPECT_EQ(cfg.text().layers, 12);
    EXPECT_EQ(cfg.text().heads, 12);
    EXPECT_EQ(cfg.text().intermediate, 3072);
    KeyReport r = check_keys(ck, cfg);
    EXPECT_TRUE(r.complete());
    EXPECT_TRUE(r.missing.empty()) << r.missing.front();
    EXPECT_TRUE(r.wrong_shape.empty()) << r.wrong_shape.front();
    EXPECT_TRUE(r.unknown.empty()) << r.unknown.front();
    EXPECT_EQ(r.used, ck.tensors.size());  // every tensor of the file is accounted for
}

TEST(ModelDetect, Sd21KeyListIsSd2WithLinearProjections) {
    Checkpoint ck = checkpoint_from_key_list(fixture_path("keys/sd21-keys.txt"));
    ModelConfig cfg = infer_config(ck);
    EXPECT_EQ(cfg.family, ModelFamily::SD2);
    EXPECT_TRUE(cfg.supported()) << cfg.unsupported_reason();
    EXPECT_TRUE(cfg.unet.use_linear_in_transformer);
    EXPECT_EQ(cfg.unet.context_dim, 1024);
    EXPECT_EQ(cfg.unet.num_head_channels, 64);
    EXPECT_EQ(cfg.text().width, 1024);
    EXPECT_EQ(cfg.text().layers, 24);
    EXPECT_EQ(cfg.text().pad_token, 0);             // open_clip.tokenize pads with 0
    EXPECT_EQ(cfg.text().layer_for(1), 2);          // penultimate whatever the clip skip (webui)
    EXPECT_TRUE(cfg.text().final_norm);
    EXPECT_FALSE(cfg.text().quick_gelu);
    EXPECT_FALSE(cfg.schedule.prediction_known);
    EXPECT_EQ(cfg.default_size(Prediction::V), 768);
    EXPECT_EQ(cfg.default_size(Prediction::Eps), 512);
    KeyReport r = check_keys(ck, cfg);
    EXPECT_TRUE(r.missing.empty()) << r.missing.front();
    EXPECT_TRUE(r.wrong_shape.empty()) << r.wrong_shape.front();
    EXPECT_TRUE(r.unknown.empty()) << r.unknown.front();
}

TEST(ModelDetect, TinyFixtureMatchesItsLdmConfig) {
    Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    ModelConfig cfg = detect_model(ck);
    // cases.json config.scaled: unet mc 32, mult [1,2,2], 1 res block, attention_resolutions [2,1], context 128
    EXPECT_EQ(cfg.family, ModelFamily::SD1);
    EXPECT_EQ(cfg.unet.model_channels, 32);
    EXPECT_EQ(cfg.unet.channel_mult, (std::vector<int>{1, 2, 2}));
    EXPECT_EQ(cfg.unet.num_res_blocks, 1);
    EXPECT_EQ(cfg.unet.attention_resolutions(), (std::vector<int>{1, 2}));
    EXPECT_EQ(cfg.unet.context_dim, 128);
    EXPECT_EQ(cfg.vae.ch, 32);
    EXPECT_EQ(cfg.vae.ch_mult, (std::vector<int>{1, 2, 2, 2}));
    EXPECT_EQ(cfg.vae.num_res_blocks, 1);
    EXPECT_EQ(cfg.text().width, 128);
    EXPECT_EQ(cfg.text().layers, 2);
    EXPECT_EQ(cfg.text().heads, 2);
    KeyReport r = check_keys(ck, cfg);
    EXPECT_TRUE(r.complete());
    EXPECT_TRUE(r.unknown.empty());
    EXPECT_EQ(r.used, 555u);
}

TEST(ModelDetect, Sd2TinyFixtureMatchesItsLdmConfig) {
    Checkpoint ck = load_checkpoint(fixture_path("sd2-tiny-v/model.safetensors"));
    ModelConfig cfg = detect_model(ck);
    // cases.json config.scaled: unet mc 64, mult [1,2,2], 1 res block, attention [2,1], 64 channels/head, linear proj
    EXPECT_EQ(cfg.family, ModelFamily::SD2);
    EXPECT_TRUE(cfg.supported());
    EXPECT_EQ(cfg.unet.model_channels, 64);
    EXPECT_EQ(cfg.unet.channel_mult, (std::vector<int>{1, 2, 2}));
    EXPECT_EQ(cfg.unet.attention_resolutions(), (std::vector<int>{1, 2}));
    EXPECT_EQ(cfg.unet.heads_for(128), 2);
    EXPECT_TRUE(cfg.unet.use_linear_in_transformer);
    EXPECT_EQ(cfg.unet.context_dim, 128);
    EXPECT_EQ(cfg.text().naming, TextConfig::Naming::OpenClip);
    EXPECT_EQ(cfg.text().width, 128);
    EXPECT_EQ(cfg.text().layers, 3);
    EXPECT_EQ(cfg.text().heads, 2);
    EXPECT_FALSE(cfg.schedule.prediction_known);  // no sidecar yaml: the pipeline probes the UNet
    KeyReport r = check_keys(ck, cfg);
    EXPECT_TRUE(r.complete());
    EXPECT_TRUE(r.unknown.empty());
}

TEST(ModelDetect, SdxlBaseKeyListIsCompleteWithTheReleasedConventions) {
    Checkpoint ck = checkpoint_from_key_list(fixture_path("keys/sdxl-base-keys.txt"));
    ModelConfig cfg = infer_config(ck);
    EXPECT_EQ(cfg.family, ModelFamily::SDXL);
    EXPECT_TRUE(cfg.supported());
    ASSERT_EQ(cfg.text_encoders.size(), 2u);
    EXPECT_EQ(cfg.text_encoders[0].width, 768);
    EXPECT_EQ(cfg.text_encoders[0].layer_for(1), 2);  // hidden_states[11] of 12, no final norm
    EXPECT_FALSE(cfg.text_encoders[0].final_norm);
    EXPECT_EQ(cfg.text_encoders[1].width, 1280);
    EXPECT_EQ(cfg.text_encoders[1].layers, 32);
    EXPECT_EQ(cfg.text_encoders[1].heads, 20);
    EXPECT_EQ(cfg.text_encoders[1].pooled_dim, 1280);
    EXPECT_EQ(cfg.unet.context_dim, 2048);
    EXPECT_EQ(cfg.unet.adm_in_channels, 2816);  // 1280 pooled + 6 x 256
    EXPECT_EQ(cfg.unet.transformer_depth, (std::vector<int>{0, 2, 10}));
    EXPECT_EQ(cfg.unet.middle_transformer_depth, 10);
    KeyReport r = check_keys(ck, cfg);
    EXPECT_TRUE(r.missing.empty()) << r.missing.front();
    EXPECT_TRUE(r.wrong_shape.empty()) << r.wrong_shape.front();
    EXPECT_TRUE(r.unknown.empty()) << r.unknown.front();
    // A file that looks like SDXL but lacks a tensor, or has one of the wrong shape, is named.
    ck.tensors.erase("conditioner.embedders.1.model.text_projection");
    ck.tensors["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = Tensor::meta({767}, DType::F16);
    r = check_keys(ck, cfg);
    ASSERT_EQ(r.missing.size(), 1u);
    EXPECT_EQ(r.missing[0], "conditioner.embedders.1.model.text_projection");
    ASSERT_EQ(r.wrong_shape.size(), 1u);
    EXPECT_NE(r.wrong_shape[0].find("final_layer_norm.weight"), std::string::npos) << r.wrong_shape[0];
    // label_emb's input width must be what the conditioner gives (pooled + 6 x 256).
    ck = checkpoint_from_key_list(fixture_path("keys/sdxl-base-keys.txt"));
    ck.tensors["model.diffusion_model.label_emb.0.0.weight"] = Tensor::meta({1280, 2048}, DType::F16);
    try {
        infer_config(ck);
        ADD_FAILURE() << "a label_emb of the wrong width was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("label_emb.0.0.weight"), std::string::npos) << e.what();
    }
}

TEST(ModelDetect, SdxlRefinerKeyListIsCompleteWithItsConventions) {
    Checkpoint ck = checkpoint_from_key_list(fixture_path("keys/sdxl-refiner-keys.txt"));
    ModelConfig cfg = infer_config(ck);
    EXPECT_EQ(cfg.family, ModelFamily::SDXLRefiner);
    EXPECT_TRUE(cfg.supported());
    ASSERT_EQ(cfg.text_encoders.size(), 1u);  // OpenCLIP bigG alone
    EXPECT_EQ(cfg.text().naming, TextConfig::Naming::OpenClip);
    EXPECT_EQ(cfg.text().pooled_dim, 1280);
    EXPECT_EQ(cfg.unet.context_dim, 1280);
    EXPECT_EQ(cfg.unet.adm_in_channels, 2560);  // 1280 pooled + 5 x 256 (sizes, crop, aesthetic score)
    EXPECT_EQ(cfg.unet.transformer_depth, (std::vector<int>{0, 4, 4, 0}));
    KeyReport r = check_keys(ck, cfg);
    EXPECT_TRUE(r.complete());
    EXPECT_TRUE(r.unknown.empty());
}

TEST(ModelDetect, InpaintingUnetIsNamed) {
    Checkpoint ck = checkpoint_from_key_list(fixture_path("keys/sd15-keys.txt"));
    ck.tensors["model.diffusion_model.input_blocks.0.0.weight"] = Tensor::meta({320, 9, 3, 3}, DType::F16);
    ModelConfig cfg = infer_config(ck);
    EXPECT_EQ(cfg.variant, "inpainting");
    EXPECT_TRUE(cfg.supported()) << cfg.unsupported_reason();
    ck.tensors["model.diffusion_model.input_blocks.0.0.weight"] = Tensor::meta({320, 8, 3, 3}, DType::F16);
    cfg = infer_config(ck);
    EXPECT_EQ(cfg.variant, "instruct-pix2pix");
    EXPECT_NE(cfg.unsupported_reason().find("8 input channels"), std::string::npos);
}

TEST(ModelDetect, NonModelsAreNamed) {
    Checkpoint lora;
    lora.path = "x.safetensors";
    lora.tensors.emplace("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", Tensor::meta({4, 320}, DType::F16));
    try {
        infer_config(lora);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("LoRA"), std::string::npos);
    }
    Checkpoint broken = checkpoint_from_key_list(fixture_path("keys/sd15-keys.txt"));
    broken.tensors.erase("model.diffusion_model.out.2.weight");
    EXPECT_THROW(infer_config(broken), Error);
}

TEST(ModelDetect, SidecarYamlOverrides) {
    std::string dir = test::temp_dir();
    std::string yaml = dir + "/m.yaml";
    std::ofstream(yaml) << "model:\n  params:\n    parameterization: v\n    scale_factor: 0.5\n"
                           "    unet_config:\n      params:\n        num_head_channels: 64\n";
    Checkpoint ck = checkpoint_from_key_list(fixture_path("keys/sd15-keys.txt"));
    ck.path = dir + "/m.safetensors";
    ModelConfig cfg = detect_model(ck);
    EXPECT_EQ(cfg.schedule.prediction, Prediction::V);
    EXPECT_FLOAT_EQ(cfg.vae.scale_factor, 0.5f);
    EXPECT_EQ(cfg.unet.heads_for(320), 5);
    EXPECT_EQ(cfg.config_source, yaml);
    std::ofstream(yaml) << "model: [1, 2";
    EXPECT_THROW(detect_model(ck), Error);
}

TEST(ModelDetect, TurboReleasesAreNamedByFileNameOrModelspec) {
    // SD-Turbo / SDXL-Turbo have their family's keys; the name of a released file, or modelspec
    // metadata, says which: 512² default and (SD-Turbo) eps without a probe.
    Checkpoint xl = checkpoint_from_key_list(fixture_path("keys/sdxl-base-keys.txt"));
    EXPECT_FALSE(detect_model(xl).turbo());
    EXPECT_EQ(detect_model(xl).default_size(), 1024);
    xl.path = "/models/sd_xl_turbo_1.0_fp16.safetensors";
    ModelConfig cfg = detect_model(xl);
    EXPECT_EQ(cfg.display_name(), "SDXL-Turbo");
    EXPECT_EQ(cfg.turbo_evidence, "its file name");
    EXPECT_EQ(cfg.default_size(), 512);
    xl.path = "/models/xl.safetensors";
    xl.metadata["modelspec.title"] = "SDXL Turbo";
    EXPECT_EQ(detect_model(xl).turbo_evidence, "its modelspec.title");

    Checkpoint sd2 = checkpoint_from_key_list(fixture_path("keys/sd21-keys.txt"));
    sd2.path = "/models/sd_turbo.safetensors";
    cfg = detect_model(sd2);
    EXPECT_EQ(cfg.display_name(), "SD-Turbo");
    EXPECT_TRUE(cfg.schedule.prediction_known);
    EXPECT_EQ(cfg.schedule.prediction, Prediction::Eps);
    EXPECT_EQ(cfg.default_size(), 512);

    Checkpoint sd1 = checkpoint_from_key_list(fixture_path("keys/sd15-keys.txt"));
    sd1.path = "/models/turbo-vision-v5.safetensors";  // SD 1.x has no Turbo release: a name is just a name
    EXPECT_FALSE(detect_model(sd1).turbo());
    EXPECT_EQ(detect_model(sd1).display_name(), "SD 1.x");
}
