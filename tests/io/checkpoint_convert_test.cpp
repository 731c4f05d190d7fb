// tests/io/checkpoint_convert_test.cpp — `difu convert`'s writers. The SD 1.x folder written from
// sd1-tiny equals the one diffusers' own converters wrote (fixture sd1-tiny-diffusers: names, shapes,
// bytes, configs); SDXL and SD 2.x folders read back to the single file's tensors and images (SD 2.x's
// text encoder one layer short, as diffusers stores it); dtype casts touch floats only.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/checkpoint_convert.h"
#include "io/diffusers_folder.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using Json = nlohmann::json;

namespace {

Json read_json(const std::string& path) { return Json::parse(std::ifstream(path)); }

bool same_bytes(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
    const Tensor x = a.contiguous(), y = b.contiguous();
    return std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

// A fresh folder path under the test's temp dir.
std::string fresh(const std::string& name) {
    const std::string dir = test::temp_dir() + "/convert-" + name;
    std::filesystem::remove_all(dir);
    return dir;
}

std::vector<uint8_t> image_of(const std::string& model, int side) {
    GenerateRequest r;
    r.prompt = "a lighthouse";
    r.negative_prompt = "fog";
    r.width = r.height = side;
    r.steps = 2;
    r.seed = 11;
    r.sampler = "euler";
    return DiffusionPipeline(model, Precision::FP32, ModelResidency::OneAtATime).generate(r).images.at(0).image.pixels;
}

}  // namespace

TEST(CheckpointConvert, Sd1FolderEqualsDiffusersOwnConversion) {
    const std::string out = fresh("sd1");
    const Checkpoint single = load_checkpoint(fixture_path("sd1-tiny/model-fp16.safetensors"));
    const std::vector<TokenizerFolder> tokenizers = write_diffusers_folder(single, detect_model(single), out, std::nullopt);
    ASSERT_EQ(tokenizers.size(), 1u);
    EXPECT_EQ(tokenizers[0].folder, "tokenizer");
    EXPECT_EQ(tokenizers[0].pad_token, 49407);
    const std::string theirs = fixture_path("sd1-tiny-diffusers");
    for (const char* file : {"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                             "text_encoder/model.safetensors"}) {
        const Checkpoint a = load_checkpoint(out + "/" + file), b = load_checkpoint(theirs + "/" + file);
        EXPECT_EQ(a.tensors.size(), b.tensors.size()) << file;
        for (const auto& [name, t] : b.tensors) {
            ASSERT_TRUE(a.has(name)) << file << ": " << name;
            EXPECT_TRUE(same_bytes(a.get(name), t)) << file << ": " << name;
        }
    }
    // The configs' model-defining fields are diffusers' (sample_size and versions aside).
    const std::pair<const char*, std::vector<const char*>> fields[] = {
        {"unet/config.json", {"in_channels", "out_channels", "block_out_channels", "layers_per_block", "down_block_types",
                              "up_block_types", "attention_head_dim", "cross_attention_dim", "use_linear_projection",
                              "norm_num_groups", "flip_sin_to_cos", "freq_shift"}},
        {"vae/config.json", {"block_out_channels", "latent_channels", "layers_per_block", "down_block_types",
                             "up_block_types", "scaling_factor"}},
        {"text_encoder/config.json", {"hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
                                      "hidden_act", "max_position_embeddings", "vocab_size", "torch_dtype",
                                      "bos_token_id", "eos_token_id", "pad_token_id"}}};
    for (const auto& [file, keys] : fields) {
        const Json a = read_json(out + "/" + file), b = read_json(theirs + "/" + file);
        for (const char* k : keys) EXPECT_EQ(a.at(k), b.at(k)) << file << ": " << k;
    }
    const Json index = read_json(out + "/model_index.json"), their_index = read_json(theirs + "/model_index.json");
    for (const char* k : {"_class_name", "text_encoder", "tokenizer", "unet", "vae"}) EXPECT_EQ(index.at(k), their_index.at(k)) << k;
    EXPECT_THROW(write_diffusers_folder(single, detect_model(single), out, std::nullopt), Error);  // not over a model
}

TEST(CheckpointConvert, SdxlFolderReadsBackToTheSameTensorsAndImage) {
    const std::string model = fixture_path("sdxl-tiny/model.safetensors"), out = fresh("sdxl");
    const Checkpoint single = load_checkpoint(model);
    const ModelConfig cfg = detect_model(single);
    const std::vector<TokenizerFolder> tokenizers = write_diffusers_folder(single, cfg, out, std::nullopt);
    ASSERT_EQ(tokenizers.size(), 2u);  // CLIP-L pads with the end token, bigG with 0 ("!")
    EXPECT_EQ(tokenizers[1].folder, "tokenizer_2");
    EXPECT_EQ(tokenizers[0].pad_token, 49407);
    EXPECT_EQ(tokenizers[1].pad_token, 0);
    const Json index = read_json(out + "/model_index.json");
    EXPECT_EQ(index.at("_class_name"), "StableDiffusionXLPipeline");
    EXPECT_EQ(index.at("tokenizer_2").at(1), "CLIPTokenizer");
    EXPECT_EQ(index.at("text_encoder_2").at(1), "CLIPTextModelWithProjection");
    EXPECT_EQ(read_json(out + "/unet/config.json").at("addition_embed_type"), "text_time");
    // diffusers' names for the bigG tower: q / k / v are the thirds of in_proj, the projection transposed.
    const Checkpoint g = load_checkpoint(out + "/text_encoder_2/model.safetensors");
    const std::string p = "conditioner.embedders.1.model.";
    const Tensor in_proj = single.get(p + "transformer.resblocks.0.attn.in_proj_weight");
    const int64_t w = in_proj.dim(1);
    EXPECT_TRUE(same_bytes(g.get("text_model.encoder.layers.0.self_attn.k_proj.weight"), in_proj.slice(0, w, 2 * w).contiguous()));
    EXPECT_TRUE(same_bytes(g.get("text_projection.weight"), single.get(p + "text_projection").permute({1, 0}).contiguous()));

    const Checkpoint back = load_checkpoint(out);
    size_t compared = 0;
    for (const auto& [name, t] : back.tensors) {
        ASSERT_TRUE(single.has(name)) << name;
        EXPECT_TRUE(same_bytes(t, single.get(name))) << name;
        ++compared;
    }
    for (const auto& [name, t] : single.tensors) {  // only what diffusers does not keep is missing
        if (!back.has(name)) {
            EXPECT_NE(name.find("logit_scale"), std::string::npos) << name;
        }
    }
    EXPECT_GT(compared, 100u);
    const ModelConfig again = detect_model(back);
    EXPECT_EQ(again.family, cfg.family);
    EXPECT_EQ(again.unet.transformer_depth, cfg.unet.transformer_depth);
    EXPECT_EQ(image_of(out, 64), image_of(model, 64));
}

TEST(CheckpointConvert, Sd2VFolderDropsTheUnusedLastTextLayerAndGivesTheSameImage) {
    // The 768-v model (its yaml beside it): the folder's text encoder has one layer fewer and its last
    // layer is the original's penultimate; the scheduler carries v_prediction.
    const std::string dir = test::temp_dir() + "/convert-sd2v-src";
    std::filesystem::create_directories(dir);
    std::filesystem::remove(dir + "/model.safetensors");
    std::filesystem::create_symlink(fixture_path("sd2-tiny-v/model.safetensors"), dir + "/model.safetensors");
    std::ofstream(dir + "/model.yaml") << "model:\n  params:\n    parameterization: \"v\"\n";
    const std::string model = dir + "/model.safetensors", out = fresh("sd2v");
    const Checkpoint single = load_checkpoint(model);
    const ModelConfig cfg = detect_model(single);
    write_diffusers_folder(single, cfg, out, std::nullopt);
    EXPECT_EQ(read_json(out + "/scheduler/scheduler_config.json").at("prediction_type"), "v_prediction");
    EXPECT_EQ(read_json(out + "/text_encoder/config.json").at("num_hidden_layers"), cfg.text().layers - 1);
    EXPECT_EQ(read_json(out + "/text_encoder/config.json").at("hidden_act"), "gelu");
    const ModelConfig folder = detect_model(load_checkpoint(out));
    EXPECT_EQ(folder.family, ModelFamily::SD2);
    EXPECT_EQ(folder.text().layers, cfg.text().layers - 1);
    EXPECT_EQ(folder.text().layer, 1);
    EXPECT_TRUE(folder.schedule.prediction_known);
    EXPECT_EQ(folder.schedule.prediction, Prediction::V);
    EXPECT_EQ(image_of(out, 64), image_of(model, 64));
}

TEST(CheckpointConvert, SingleFileCastTouchesFloatsOnly) {
    const std::string in = fixture_path("sd1-tiny/model.safetensors"), out = test::temp_dir() + "/convert-bf16.safetensors";
    const Checkpoint a = load_checkpoint(in);
    write_single_file(a, out, DType::BF16);
    const Checkpoint b = load_checkpoint(out);
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    int ints = 0;
    for (const auto& [name, t] : a.tensors) {
        const Tensor& c = b.get(name);
        if (is_float(t.dtype())) {
            EXPECT_EQ(c.dtype(), DType::BF16) << name;
            EXPECT_TRUE(same_bytes(c, t.to(DType::BF16))) << name;
        } else {
            EXPECT_TRUE(same_bytes(c, t)) << name;
            ++ints;
        }
    }
    EXPECT_GT(ints, 0);  // position_ids
    EXPECT_EQ(a.metadata, b.metadata);
    EXPECT_THROW(write_single_file(a, in, std::nullopt), Error);  // never over the file being read
}

TEST(CheckpointConvert, UnetNamesFollowDiffusersBlockLayout) {
    // layers_per_block 2: input_blocks 1, 2 resnets + attentions of level 0, 3 its downsampler, ...
    EXPECT_EQ(unet_diffusers_name("input_blocks.4.1.proj_in.weight", 2), "down_blocks.1.attentions.0.proj_in.weight");
    EXPECT_EQ(unet_diffusers_name("input_blocks.6.0.op.bias", 2), "down_blocks.1.downsamplers.0.conv.bias");
    EXPECT_EQ(unet_diffusers_name("output_blocks.2.1.conv.weight", 2), "up_blocks.0.upsamplers.0.conv.weight");
    EXPECT_EQ(unet_diffusers_name("output_blocks.5.2.conv.bias", 2), "up_blocks.1.upsamplers.0.conv.bias");
    EXPECT_EQ(unet_diffusers_name("output_blocks.5.0.skip_connection.weight", 2), "up_blocks.1.resnets.2.conv_shortcut.weight");
    EXPECT_EQ(unet_diffusers_name("middle_block.2.emb_layers.1.weight", 2), "mid_block.resnets.1.time_emb_proj.weight");
    EXPECT_EQ(unet_diffusers_name("label_emb.0.2.bias", 2), "add_embedding.linear_2.bias");
    EXPECT_EQ(unet_diffusers_name("input_blocks.1.0.nonsense.weight", 2), "");
}
