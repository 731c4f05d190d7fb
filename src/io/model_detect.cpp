// io/model_detect.cpp — which Stable Diffusion family a checkpoint is, and its hyper-parameters,
// read off the tensor names and shapes exactly as they are in a downloaded file.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

#include "io/diffusers_folder.h"
#include "io/ldm_yaml.h"
#include "io/model_config.h"
#include "io/model_family.h"

namespace difu {
namespace {

constexpr int kClipHeadChannels = 64;  // CLIP text towers: 64 channels per attention head

// Shape of `name`, or nothing.
std::optional<Shape> shape_of(const Checkpoint& ck, const std::string& name) {
    auto it = ck.tensors.find(name);
    if (it == ck.tensors.end()) return std::nullopt;
    return it->second.shape();
}

// Dimension `d` of a tensor that must exist with at least d+1 dims.
int dim_of(const Checkpoint& ck, const std::string& name, size_t d) {
    auto s = shape_of(ck, name);
    if (!s) throw Error::at(ck.path, "tensor '{}' is missing (needed to infer the model's hyper-parameters)", name);
    if (s->size() <= d || (*s)[d] <= 0 || (*s)[d] > (1 << 24))
        throw Error::at(ck.path, "tensor '{}' has shape {}, which no Stable Diffusion model has", name, shape_str(*s));
    return static_cast<int>((*s)[d]);
}

bool has_prefix(const Checkpoint& ck, const std::string& prefix) {
    auto it = ck.tensors.lower_bound(prefix);
    return it != ck.tensors.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

// Number of consecutive indices i = 0, 1, ... for which some key starts with prefix + "i.".
int count_indexed(const Checkpoint& ck, const std::string& prefix) {
    int n = 0;
    while (has_prefix(ck, prefix + std::to_string(n) + ".")) ++n;
    return n;
}

int ratio(const Checkpoint& ck, int value, int base, const std::string& what) {
    if (base <= 0 || value % base != 0)
        throw Error::at(ck.path, "{} has {} channels, not a multiple of {}", what, value, base);
    return value / base;
}

UNetConfig infer_unet(const Checkpoint& ck, const std::string& p) {
    UNetConfig u;
    u.model_channels = dim_of(ck, p + "input_blocks.0.0.weight", 0);
    u.in_channels = dim_of(ck, p + "input_blocks.0.0.weight", 1);
    u.out_channels = dim_of(ck, p + "out.2.weight", 0);
    const int n_input = count_indexed(ck, p + "input_blocks.");
    std::vector<int> blocks_per_level;
    int blocks = 0, depth_at_level = 0, mult = 0;
    for (int k = 1; k < n_input; ++k) {
        const std::string b = p + "input_blocks." + std::to_string(k) + ".";
        if (ck.has(b + "0.op.weight")) {  // Downsample closes a level
            blocks_per_level.push_back(blocks);
            u.channel_mult.push_back(mult);
            u.transformer_depth.push_back(depth_at_level);
            blocks = 0;
            depth_at_level = 0;
            continue;
        }
        mult = ratio(ck, dim_of(ck, b + "0.in_layers.2.weight", 0), u.model_channels, b + "0");
        depth_at_level = count_indexed(ck, b + "1.transformer_blocks.");
        ++blocks;
    }
    if (blocks == 0) throw Error::at(ck.path, "the UNet's last level has no ResBlocks under '{}input_blocks.'", p);
    blocks_per_level.push_back(blocks);
    u.channel_mult.push_back(mult);
    u.transformer_depth.push_back(depth_at_level);
    u.num_res_blocks = blocks_per_level[0];
    for (int b : blocks_per_level)
        if (b != u.num_res_blocks)
            throw Error::at(ck.path, "UNet levels have different numbers of ResBlocks; not supported");
    u.middle_transformer_depth = count_indexed(ck, p + "middle_block.1.transformer_blocks.");
    // Context width and projection kind come from the first SpatialTransformer.
    for (size_t l = 0; l < u.transformer_depth.size(); ++l) {
        if (u.transformer_depth[l] == 0) continue;
        const std::string t = p + "input_blocks." + std::to_string(1 + l * (u.num_res_blocks + 1)) + ".1.";
        u.context_dim = dim_of(ck, t + "transformer_blocks.0.attn2.to_k.weight", 1);
        u.use_linear_in_transformer = shape_of(ck, t + "proj_in.weight")->size() == 2;
        break;
    }
    if (auto s = shape_of(ck, p + "label_emb.0.0.weight"); s && s->size() == 2) u.adm_in_channels = static_cast<int>((*s)[1]);
    return u;
}

VaeConfig infer_vae(const Checkpoint& ck, const std::string& p) {
    VaeConfig v;
    v.ch = dim_of(ck, p + "encoder.conv_in.weight", 0);
    v.in_channels = dim_of(ck, p + "encoder.conv_in.weight", 1);
    v.out_ch = dim_of(ck, p + "decoder.conv_out.weight", 0);
    const int levels = count_indexed(ck, p + "encoder.down.");
    if (levels == 0) throw Error::at(ck.path, "no VAE encoder levels under '{}encoder.down.'", p);
    for (int i = 0; i < levels; ++i) {
        const std::string name = p + "encoder.down." + std::to_string(i) + ".block.0.conv1.weight";
        v.ch_mult.push_back(ratio(ck, dim_of(ck, name, 0), v.ch, name));
    }
    v.num_res_blocks = count_indexed(ck, p + "encoder.down.0.block.");
    v.z_channels = dim_of(ck, p + "decoder.conv_in.weight", 1);
    v.embed_dim = dim_of(ck, p + "post_quant_conv.weight", 1);
    return v;
}

TextConfig infer_text(const Checkpoint& ck, const TextEncoderConvention& c) {
    const std::string p(c.prefix);
    const bool hf = c.naming == TextConfig::Naming::HuggingFace;
    const std::string token_embedding = p + (hf ? "embeddings.token_embedding.weight" : "token_embedding.weight");
    TextConfig t = text_config(c);
    t.vocab_size = dim_of(ck, token_embedding, 0);
    t.width = dim_of(ck, token_embedding, 1);
    t.context_length = dim_of(ck, p + (hf ? "embeddings.position_embedding.weight" : "positional_embedding"), 0);
    t.layers = count_indexed(ck, p + (hf ? "encoder.layers." : "transformer.resblocks."));
    t.intermediate = dim_of(ck, p + (hf ? "encoder.layers.0.mlp.fc1.weight" : "transformer.resblocks.0.mlp.c_fc.weight"), 0);
    t.heads = ratio(ck, t.width, kClipHeadChannels, token_embedding);
    if (t.layers < c.layer) throw Error::at(ck.path, "the text encoder under '{}' has {} layers", p, t.layers);
    if (c.pooled) t.pooled_dim = dim_of(ck, p + "text_projection", 1);  // [width, pooled_dim]: pooled = x W
    return t;
}

// Says what the file is when it is not a Stable Diffusion checkpoint.
[[noreturn]] void not_a_model(const Checkpoint& ck) {
    if (ck.tensors.empty()) throw Error::at(ck.path, "the file holds no tensors");
    const std::string first = ck.tensors.begin()->first;
    const bool peft_lora = (has_prefix(ck, "unet.") || has_prefix(ck, "text_encoder")) && first.find("lora") != std::string::npos;
    if (has_prefix(ck, "lora_unet_") || has_prefix(ck, "lora_te") || peft_lora)
        throw Error::at(ck.path, "this is a LoRA, not a Stable Diffusion model (use it with --lora FILE:WEIGHT or a <lora:name:weight> "
                                 "prompt tag and --lora-dir)");
    if (ck.has("emb_params") || ck.has("string_to_param.*") || (ck.has("clip_l") && ck.has("clip_g")))
        throw Error::at(ck.path, "this is a textual-inversion embedding, not a model (put it in --embeddings-dir and name it in a prompt)");
    if (ck.has("encoder.conv_in.weight") && ck.has("decoder.conv_in.weight"))
        throw Error::at(ck.path, "this is a standalone VAE, not a full Stable Diffusion model (use it with --vae FILE)");
    if (has_prefix(ck, "down_blocks.") || has_prefix(ck, "conv_in."))
        throw Error::at(ck.path, "this looks like a diffusers-format UNet file; single-file checkpoints only for now");
    throw Error::at(ck.path, "not a Stable Diffusion checkpoint: no 'model.diffusion_model.*' tensors ({} tensors, "
                             "the first is '{}')", ck.tensors.size(), first);
}

}  // namespace

std::string_view family_name(ModelFamily f) {
    return f == ModelFamily::Unknown ? std::string_view("unknown") : describe(f).name;
}

std::vector<int> UNetConfig::attention_resolutions() const {
    std::vector<int> r;
    for (size_t l = 0; l < transformer_depth.size(); ++l)
        if (transformer_depth[l] > 0) r.push_back(1 << l);
    return r;
}

int ModelConfig::pooled_dim() const {
    int sum = 0;
    for (const TextConfig& t : text_encoders) sum += t.pooled_dim;
    return sum;
}

int ModelConfig::default_size(Prediction prediction) const {
    if (turbo()) return kTurboDefaultSize;
    const FamilyDescription& d = describe(family);
    return prediction == Prediction::V ? d.default_size_v : d.default_size_eps;
}

std::string ModelConfig::display_name() const {
    std::string name(family_name(family));
    const FamilyDescription& d = describe(family);
    if (turbo()) name = d.turbo_name;
    else if (!d.prediction_from_keys)  // SD 2.x: the same keys for 512 (eps) and 768-v
        name += !schedule.prediction_known ? fmt::format(" ({} eps or {}-v: a probe of the UNet decides at load)",
                                                         d.default_size_eps, d.default_size_v)
                : schedule.prediction == Prediction::V ? fmt::format(" {}-v", d.default_size_v)
                                                       : fmt::format(" {} (eps)", d.default_size_eps);
    if (!variant.empty()) name += " " + variant;
    return name;
}

std::string ModelConfig::unsupported_reason() const {
    if (!describe(family).supported)
        return fmt::format("{} checkpoints are recognised but not supported yet", family_name(family));
    if (!variant.empty() && variant != "inpainting")
        return fmt::format("{} UNets ({} input channels) are not supported yet", variant, unet.in_channels);
    return "";
}

ModelConfig infer_config(const Checkpoint& ck) {
    ModelConfig cfg;
    if (!has_prefix(ck, cfg.unet_prefix)) not_a_model(ck);
    const FamilyDescription* family = nullptr;
    for (const FamilyDescription& f : model_families())
        if (ck.has(std::string(f.identifying_key))) { family = &f; break; }
    if (!family)
        throw Error::at(ck.path, "has a UNet but no text encoder this version of difu knows (expected "
                                 "'cond_stage_model.transformer.text_model.*' for SD 1.x, 'cond_stage_model.model.*' "
                                 "for SD 2.x, 'conditioner.embedders.*' for SDXL)");
    cfg = family_config(*family);
    cfg.unet = infer_unet(ck, cfg.unet_prefix);
    cfg.vae = infer_vae(ck, cfg.vae_prefix);
    cfg.text_encoders.clear();
    for (const TextEncoderConvention& text : family->text_encoders) cfg.text_encoders.push_back(infer_text(ck, text));
    cfg.unet.num_heads = family->unet_num_heads;
    cfg.unet.num_head_channels = family->unet_head_channels;
    cfg.vae.scale_factor = family->vae_scale_factor;
    if (cfg.unet.in_channels == 9) cfg.variant = "inpainting";
    else if (cfg.unet.in_channels == 8) cfg.variant = "instruct-pix2pix";
    else if (cfg.unet.in_channels != 4)
        throw Error::at(ck.path, "UNet has {} input channels; Stable Diffusion UNets have 4, 8 or 9", cfg.unet.in_channels);
    if (auto s = shape_of(ck, "betas"); s && s->size() == 1) cfg.schedule.timesteps = static_cast<int>((*s)[0]);
    if (family->vector != VectorConditioning::None) {
        const int size_features =
            (family->vector == VectorConditioning::PooledAndSizes ? kSdxlSizeValues : kRefinerSizeValues) * kSizeEmbeddingDim;
        const int pooled = cfg.pooled_dim();
        if (cfg.unet.adm_in_channels != pooled + size_features)
            throw Error::at(ck.path, "tensor '{}label_emb.0.0.weight' takes {} inputs, but the text encoders' pooled "
                                     "output ({}) and the size features ({}) make {}", cfg.unet_prefix,
                            cfg.unet.adm_in_channels, pooled, size_features, pooled + size_features);
    }
    return cfg;
}

// Turbo releases share their family's keys: their name says it (sd_xl_turbo_1.0_fp16.safetensors,
// a "sdxl-turbo" folder), or the modelspec metadata some writers add.
std::string turbo_evidence(const Checkpoint& ck, const FamilyDescription& family) {
    if (family.turbo_name.empty()) return "";
    auto says_turbo = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s.find("turbo") != std::string::npos;
    };
    for (const char* key : {"modelspec.title", "modelspec.architecture"})
        if (auto it = ck.metadata.find(key); it != ck.metadata.end() && says_turbo(it->second)) return fmt::format("its {}", key);
    if (says_turbo(std::filesystem::path(ck.path).filename().string())) return "its file name";
    return "";
}

ModelConfig detect_model(const Checkpoint& ck) {
    ModelConfig cfg = infer_config(ck);
    cfg.turbo_evidence = turbo_evidence(ck, describe(cfg.family));
    if (cfg.turbo() && !cfg.schedule.prediction_known) {  // SD-Turbo is an eps model (its model card, diffusers config)
        cfg.schedule.prediction = Prediction::Eps;
        cfg.schedule.prediction_known = true;
    }
    if (is_diffusers_folder(ck.path)) {
        apply_diffusers_config(ck.path, cfg);
        return cfg;
    }
    std::filesystem::path yaml = std::filesystem::path(ck.path).replace_extension(".yaml");
    if (!ck.path.empty() && std::filesystem::is_regular_file(yaml)) apply_ldm_yaml(yaml.string(), cfg);
    return cfg;
}

}  // namespace difu
