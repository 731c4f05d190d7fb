// io/checkpoint_convert.cpp — single file and diffusers folder writers. The diffusers names are the
// forward direction of io/diffusers_folder.cpp's (diffusers' convert_ldm_unet_checkpoint,
// convert_ldm_vae_checkpoint, convert_ldm_clip_checkpoint, convert_open_clip_checkpoint):
//   unet   input_blocks.n (n >= 1): level i = (n-1) / (L+1), j = (n-1) % (L+1); j == L is the downsampler
//          output_blocks.n: level i = n / (L+1), j = n % (L+1); ".1.conv" / ".2.conv" is the upsampler
//   vae    decoder.up.k -> decoder.up_blocks.(N-1-k); mid.attn_1 1x1 convs -> Linear [C, C]
//   text   OpenCLIP: attn.in_proj -> self_attn.{q,k,v}_proj (thirds), text_projection -> its transpose
#include "io/checkpoint_convert.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

#include "io/model_family.h"
#include "io/safetensors_writer.h"

namespace difu {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kDiffusersVersion = "0.27.2";  // the configs' format (any later diffusers reads it)
// The special-token ids the released CLIPTextConfig files carry (openai/clip-vit-large-patch14 and
// laion bigG alike; transformers' CLIP text model does not read them to find the end token).
constexpr int kConfigBos = 0, kConfigEos = 2, kConfigPad = 1;
constexpr double kNormEps = 1e-5;
constexpr int kNormGroups = 32;

Tensor cast(const Tensor& t, std::optional<DType> dtype) {
    return dtype && is_float(t.dtype()) && t.dtype() != *dtype ? t.to(*dtype) : t;
}
DType cast_dtype(DType d, std::optional<DType> dtype) { return dtype && is_float(d) ? *dtype : d; }

using Transform = std::function<Tensor(const Tensor&)>;

// A tensor of the output, made from a file tensor when written: `transform` (a view: slice, permute,
// reshape) giving `shape`, then the cast.
LazyTensor lazy(std::string name, const Tensor& src, std::optional<DType> dtype, Transform transform = nullptr,
                Shape shape = {}) {
    if (!transform) shape = src.shape();
    return {std::move(name), shape, cast_dtype(src.dtype(), dtype), [src, dtype, transform] {
                return cast(transform ? transform(src).contiguous() : src, dtype);
            }};
}

std::string resnet_name(const std::string& rest) {
    static const std::pair<const char*, const char*> kNames[] = {
        {"in_layers.0.", "norm1."},  {"in_layers.2.", "conv1."},  {"emb_layers.1.", "time_emb_proj."},
        {"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."}};
    for (const auto& [from, to] : kNames)
        if (rest.rfind(from, 0) == 0) return to + rest.substr(std::strlen(from));
    return "";
}

std::string with_part(const std::string& head, const std::string& part) { return part.empty() ? "" : head + part; }

std::string vae_diffusers_name(const std::string& k, int levels, bool* squeeze) {
    static const std::regex kLevel(R"((encoder\.down|decoder\.up)\.(\d{1,4})\.(block\.(\d{1,4})|downsample|upsample)\.(.+))");
    static const std::regex kMid(R"((encoder|decoder)\.mid\.(block_([12])|attn_1)\.(.+))");
    *squeeze = false;
    auto resnet = [](const std::string& r) { return r.rfind("nin_shortcut.", 0) == 0 ? "conv_shortcut." + r.substr(13) : r; };
    std::smatch m;
    if (std::regex_match(k, m, kLevel)) {
        const bool enc = m[1] == "encoder.down";
        const int i = std::stoi(m[2]);
        const std::string level = enc ? fmt::format("encoder.down_blocks.{}.", i) : fmt::format("decoder.up_blocks.{}.", levels - 1 - i);
        if (m[4].matched) return fmt::format("{}resnets.{}.{}", level, m[4].str(), resnet(m[5]));
        return level + (enc ? "downsamplers.0." : "upsamplers.0.") + m[5].str();
    }
    if (std::regex_match(k, m, kMid)) {
        const std::string side = m[1].str() + ".mid_block.";
        if (m[3].matched) return fmt::format("{}resnets.{}.{}", side, std::stoi(m[3]) - 1, resnet(m[4]));
        static const std::pair<const char*, const char*> kAttn[] = {
            {"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
        const std::string rest = m[4];
        for (const auto& [from, to] : kAttn)
            if (rest.rfind(from, 0) == 0) {
                *squeeze = std::string(from) != "norm.";
                return side + "attentions.0." + to + rest.substr(std::strlen(from));
            }
        return "";
    }
    for (const char* side : {"encoder.", "decoder."})
        if (k.rfind(std::string(side) + "norm_out.", 0) == 0) return side + std::string("conv_norm_out.") + k.substr(std::strlen(side) + 9);
    for (const char* keep : {"encoder.conv_in.", "encoder.conv_out.", "decoder.conv_in.", "decoder.conv_out.", "quant_conv.", "post_quant_conv."})
        if (k.rfind(keep, 0) == 0) return k;
    return "";
}

// OpenCLIP text tower names -> CLIPTextModel names; q / k / v are thirds of in_proj.
void add_openclip_text(std::vector<LazyTensor>& out, const std::string& key, const std::string& rest, const Tensor& t,
                       const TextConfig& tc, int dropped_layers, std::optional<DType> dtype) {
    static const std::regex kBlock(R"(transformer\.resblocks\.(\d{1,4})\.(.+))");
    static const std::pair<const char*, const char*> kParts[] = {
        {"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."}, {"mlp.c_fc.", "mlp.fc1."}, {"mlp.c_proj.", "mlp.fc2."},
        {"attn.out_proj.", "self_attn.out_proj."}};
    std::smatch m;
    if (rest == "token_embedding.weight") return out.push_back(lazy("text_model.embeddings.token_embedding.weight", t, dtype));
    if (rest == "positional_embedding") return out.push_back(lazy("text_model.embeddings.position_embedding.weight", t, dtype));
    if (rest.rfind("ln_final.", 0) == 0) return out.push_back(lazy("text_model.final_layer_norm." + rest.substr(9), t, dtype));
    if (rest == "logit_scale") return;  // the image-text head's temperature: diffusers keeps none
    if (rest == "text_projection") {
        if (tc.pooled_dim > 0 && t.ndim() == 2)
            out.push_back(lazy("text_projection.weight", t, dtype, [](const Tensor& x) { return x.permute({1, 0}); },
                               {t.dim(1), t.dim(0)}));
        return;  // SD 2.x's is unused, and CLIPTextModel has none
    }
    if (!std::regex_match(rest, m, kBlock)) throw Error::make("text encoder tensor '{}' has no diffusers name", key);
    const int layer = std::stoi(m[1]);
    if (layer >= tc.layers - dropped_layers) return;  // the layer diffusers leaves out (SD 2.x's last)
    const std::string head = fmt::format("text_model.encoder.layers.{}.", layer), part = m[2];
    for (const auto& [from, to] : kParts)
        if (part.rfind(from, 0) == 0) return out.push_back(lazy(head + to + part.substr(std::strlen(from)), t, dtype));
    if (part == "attn.in_proj_weight" || part == "attn.in_proj_bias") {
        const std::string suffix = part.substr(part.rfind('_') + 1);  // weight / bias
        const int64_t w = tc.width;
        if (t.ndim() < 1 || t.dim(0) != 3 * w) throw Error::make("'{}' is not 3 x {} rows", key, w);
        Shape third = t.shape();
        third[0] = w;
        for (int i = 0; i < 3; ++i)
            out.push_back(lazy(fmt::format("{}self_attn.{}_proj.{}", head, "qkv"[i], suffix), t, dtype,
                               [i, w](const Tensor& x) { return x.slice(0, i * w, (i + 1) * w); }, third));
        return;
    }
    throw Error::make("text encoder tensor '{}' has no diffusers name", key);
}

void write_json(const fs::path& path, const Json& j) {
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    if (!out) throw Error::at(path.string(), "write failed");
}

std::string torch_dtype(DType d) { return d == DType::F16 ? "float16" : d == DType::BF16 ? "bfloat16" : "float32"; }

// A float as JSON shows it shortest (0.18215, not 0.1821500062942505).
double shortest(float v) { return std::stod(fmt::format("{}", v)); }

Json unet_config(const ModelConfig& cfg, int sample_size) {
    const UNetConfig& u = cfg.unet;
    Json blocks = Json::array(), down = Json::array(), up = Json::array(), heads = Json::array(), depth = Json::array();
    for (size_t l = 0; l < u.channel_mult.size(); ++l) {
        const int channels = u.model_channels * u.channel_mult[l];
        const bool attn = l < u.transformer_depth.size() && u.transformer_depth[l] > 0;
        blocks.push_back(channels);
        down.push_back(attn ? "CrossAttnDownBlock2D" : "DownBlock2D");
        up.insert(up.begin(), attn ? "CrossAttnUpBlock2D" : "UpBlock2D");
        heads.push_back(u.heads_for(channels));
        depth.push_back(attn ? u.transformer_depth[l] : 1);
    }
    Json j = {{"_class_name", "UNet2DConditionModel"}, {"_diffusers_version", kDiffusersVersion},
              {"act_fn", "silu"}, {"attention_head_dim", u.num_head_channels > 0 ? heads : Json(u.num_heads)},
              {"block_out_channels", blocks}, {"center_input_sample", false}, {"cross_attention_dim", u.context_dim},
              {"down_block_types", down}, {"downsample_padding", 1}, {"flip_sin_to_cos", true}, {"freq_shift", 0},
              {"in_channels", u.in_channels}, {"layers_per_block", u.num_res_blocks}, {"mid_block_scale_factor", 1},
              {"mid_block_type", "UNetMidBlock2DCrossAttn"}, {"norm_eps", kNormEps}, {"norm_num_groups", kNormGroups},
              {"out_channels", u.out_channels}, {"sample_size", sample_size}, {"transformer_layers_per_block", depth},
              {"up_block_types", up}, {"use_linear_projection", u.use_linear_in_transformer}};
    if (u.adm_in_channels > 0) {
        j["addition_embed_type"] = "text_time";
        j["addition_time_embed_dim"] = kSizeEmbeddingDim;
        j["projection_class_embeddings_input_dim"] = u.adm_in_channels;
    }
    return j;
}

Json vae_config(const ModelConfig& cfg, int sample_size) {
    const VaeConfig& v = cfg.vae;
    Json blocks = Json::array(), down = Json::array(), up = Json::array();
    for (int m : v.ch_mult) {
        blocks.push_back(v.ch * m);
        down.push_back("DownEncoderBlock2D");
        up.push_back("UpDecoderBlock2D");
    }
    return {{"_class_name", "AutoencoderKL"}, {"_diffusers_version", kDiffusersVersion}, {"act_fn", "silu"},
            {"block_out_channels", blocks}, {"down_block_types", down}, {"in_channels", v.in_channels},
            {"latent_channels", v.embed_dim}, {"layers_per_block", v.num_res_blocks}, {"norm_num_groups", kNormGroups},
            {"out_channels", v.out_ch}, {"sample_size", sample_size}, {"scaling_factor", shortest(v.scale_factor)},
            {"up_block_types", up}};
}

Json text_config_json(const TextConfig& t, int dropped_layers, DType dtype) {
    return {{"architectures", {t.pooled_dim > 0 ? "CLIPTextModelWithProjection" : "CLIPTextModel"}},
            {"attention_dropout", 0.0}, {"bos_token_id", kConfigBos}, {"dropout", 0.0}, {"eos_token_id", kConfigEos},
            {"hidden_act", t.quick_gelu ? "quick_gelu" : "gelu"}, {"hidden_size", t.width}, {"initializer_factor", 1.0},
            {"initializer_range", 0.02}, {"intermediate_size", t.intermediate}, {"layer_norm_eps", kNormEps},
            {"max_position_embeddings", t.context_length}, {"model_type", "clip_text_model"},
            {"num_attention_heads", t.heads}, {"num_hidden_layers", t.layers - dropped_layers},
            {"pad_token_id", kConfigPad}, {"projection_dim", t.pooled_dim > 0 ? t.pooled_dim : t.width},
            {"torch_dtype", torch_dtype(dtype)}, {"vocab_size", t.vocab_size}};
}

Json scheduler_config(const ModelConfig& cfg) {
    const ScheduleConfig& s = cfg.schedule;
    return {{"_class_name", "EulerDiscreteScheduler"}, {"_diffusers_version", kDiffusersVersion},
            {"beta_end", s.linear_end}, {"beta_schedule", "scaled_linear"}, {"beta_start", s.linear_start},
            {"interpolation_type", "linear"}, {"num_train_timesteps", s.timesteps},
            {"prediction_type", s.prediction == Prediction::V ? "v_prediction" : "epsilon"}, {"steps_offset", 1},
            {"timestep_spacing", "leading"}, {"use_karras_sigmas", false}};
}

}  // namespace

std::string unet_diffusers_name(const std::string& k, int L) {
    static const std::regex kInput(R"(input_blocks\.(\d{1,4})\.([01])\.(.+))");
    static const std::regex kMiddle(R"(middle_block\.([012])\.(.+))");
    static const std::regex kOutput(R"(output_blocks\.(\d{1,4})\.([012])\.(.+))");
    static const std::pair<const char*, const char*> kTop[] = {
        {"input_blocks.0.0.", "conv_in."}, {"time_embed.0.", "time_embedding.linear_1."},
        {"time_embed.2.", "time_embedding.linear_2."}, {"label_emb.0.0.", "add_embedding.linear_1."},
        {"label_emb.0.2.", "add_embedding.linear_2."}, {"out.0.", "conv_norm_out."}, {"out.2.", "conv_out."}};
    for (const auto& [from, to] : kTop)
        if (k.rfind(from, 0) == 0) return to + k.substr(std::strlen(from));
    std::smatch m;
    if (std::regex_match(k, m, kInput)) {
        const int n = std::stoi(m[1]) - 1, i = n / (L + 1), j = n % (L + 1);
        const std::string rest = m[3];
        if (j == L) return rest.rfind("op.", 0) == 0 ? fmt::format("down_blocks.{}.downsamplers.0.conv.{}", i, rest.substr(3)) : "";
        if (m[2] == "1") return fmt::format("down_blocks.{}.attentions.{}.{}", i, j, rest);
        return with_part(fmt::format("down_blocks.{}.resnets.{}.", i, j), resnet_name(rest));
    }
    if (std::regex_match(k, m, kMiddle)) {
        if (m[1] == "1") return "mid_block.attentions.0." + m[2].str();
        return with_part(fmt::format("mid_block.resnets.{}.", m[1] == "0" ? 0 : 1), resnet_name(m[2]));
    }
    if (!std::regex_match(k, m, kOutput)) return "";
    const int n = std::stoi(m[1]), i = n / (L + 1), j = n % (L + 1);
    const std::string part = m[2], rest = m[3];
    if (part == "0") return with_part(fmt::format("up_blocks.{}.resnets.{}.", i, j), resnet_name(rest));
    if (rest.rfind("conv.", 0) == 0) return fmt::format("up_blocks.{}.upsamplers.0.conv.{}", i, rest.substr(5));
    return part == "1" ? fmt::format("up_blocks.{}.attentions.{}.{}", i, j, rest) : "";
}

void write_single_file(const Checkpoint& ck, const std::string& path, std::optional<DType> dtype) {
    std::error_code ec;
    if (fs::exists(path) && fs::equivalent(path, ck.path, ec)) throw Error::at(path, "is the file being converted; write elsewhere");
    std::vector<LazyTensor> out;
    for (const auto& [name, t] : ck.tensors) out.push_back(lazy(name, t, dtype));
    write_safetensors(path, out, ck.metadata);
}

std::vector<TokenizerFolder> write_diffusers_folder(const Checkpoint& ck, const ModelConfig& cfg, const std::string& dir,
                                                    std::optional<DType> dtype) {
    const fs::path root(dir);
    if (fs::exists(root / "model_index.json")) throw Error::at(dir, "already holds a diffusers model (model_index.json)");
    const FamilyDescription& family = describe(cfg.family);
    std::map<std::string, std::vector<LazyTensor>> files;  // folder -> its tensors
    const int levels = static_cast<int>(cfg.vae.ch_mult.size());
    for (const auto& [key, t] : ck.tensors) {
        if (key.rfind(cfg.unet_prefix, 0) == 0) {
            const std::string name = unet_diffusers_name(key.substr(cfg.unet_prefix.size()), cfg.unet.num_res_blocks);
            if (name.empty()) throw Error::at(ck.path, "UNet tensor '{}' has no diffusers name", key);
            files["unet"].push_back(lazy(name, t, dtype));
        } else if (key.rfind(cfg.vae_prefix, 0) == 0) {
            bool squeeze = false;
            const std::string name = vae_diffusers_name(key.substr(cfg.vae_prefix.size()), levels, &squeeze);
            if (name.empty()) throw Error::at(ck.path, "VAE tensor '{}' has no diffusers name", key);
            const bool to_linear = squeeze && t.ndim() == 4;  // LDM's 1x1 conv [C, C, 1, 1] -> Linear [C, C]
            if (!to_linear) files["vae"].push_back(lazy(name, t, dtype));
            else
                files["vae"].push_back(lazy(name, t, dtype, [](const Tensor& x) { return x.contiguous().reshape({x.dim(0), x.dim(1)}); },
                                            {t.dim(0), t.dim(1)}));
        } else {
            for (size_t i = 0; i < cfg.text_encoders.size(); ++i) {
                const TextConfig& tc = cfg.text_encoders[i];
                const TextEncoderConvention& conv = family.text_encoders[i];
                if (key.rfind(tc.prefix, 0) != 0) continue;
                const std::string rest = key.substr(tc.prefix.size());
                auto& list = files[std::string(conv.diffusers_folder)];
                if (tc.naming == TextConfig::Naming::OpenClip)
                    add_openclip_text(list, key, rest, t, tc, conv.diffusers_dropped_layers, dtype);
                else
                    list.push_back(lazy("text_model." + rest, t, dtype));
            }
        }
        // Everything else (EMA copies, DDPM schedule buffers) is training state diffusers does not keep.
    }
    const int sample = cfg.default_size(cfg.schedule.prediction);
    Json index = {{"_class_name", std::string(cfg.variant == "inpainting" ? family.diffusers_inpaint_pipeline : family.diffusers_pipeline)},
                  {"_diffusers_version", kDiffusersVersion}, {"feature_extractor", {nullptr, nullptr}},
                  {"safety_checker", {nullptr, nullptr}}, {"scheduler", {"diffusers", "EulerDiscreteScheduler"}}};
    if (index["_class_name"] == "") throw Error::at(ck.path, "diffusers has no pipeline for {} {} models", family.name, cfg.variant);
    fs::create_directories(root);
    for (const auto& [folder, tensors] : files) {
        fs::create_directories(root / folder);
        const bool is_text = folder.rfind("text_encoder", 0) == 0;
        write_safetensors((root / folder / (is_text ? "model.safetensors" : "diffusion_pytorch_model.safetensors")).string(), tensors);
    }
    std::vector<TokenizerFolder> tokenizers;
    for (size_t i = 0; i < cfg.text_encoders.size(); ++i) {
        const TextEncoderConvention& conv = family.text_encoders[i];
        const std::string folder(conv.diffusers_folder);
        // text_encoder -> tokenizer, text_encoder_2 -> tokenizer_2
        tokenizers.push_back({"tokenizer" + folder.substr(std::strlen("text_encoder")), cfg.text_encoders[i].pad_token});
        index[tokenizers.back().folder] = {"transformers", "CLIPTokenizer"};
        const std::vector<LazyTensor>& written = files[folder];
        const DType weights = written.empty() ? DType::F32 : written.front().dtype;
        write_json(root / folder / "config.json", text_config_json(cfg.text_encoders[i], conv.diffusers_dropped_layers, weights));
        index[folder] = {"transformers", cfg.text_encoders[i].pooled_dim > 0 ? "CLIPTextModelWithProjection" : "CLIPTextModel"};
    }
    if (family.vector != VectorConditioning::None) {
        if (!index.contains("text_encoder")) index["text_encoder"] = index["tokenizer"] = {nullptr, nullptr};
        index["force_zeros_for_empty_prompt"] = family.zero_empty_negative;
        if (family.vector == VectorConditioning::PooledAndAesthetic) index["requires_aesthetics_score"] = true;
    }
    index["unet"] = {"diffusers", "UNet2DConditionModel"};
    index["vae"] = {"diffusers", "AutoencoderKL"};
    write_json(root / "model_index.json", index);
    write_json(root / "unet" / "config.json", unet_config(cfg, sample / 8));
    write_json(root / "vae" / "config.json", vae_config(cfg, sample));
    fs::create_directories(root / "scheduler");
    write_json(root / "scheduler" / "scheduler_config.json", scheduler_config(cfg));
    return tokenizers;
}

}  // namespace difu
