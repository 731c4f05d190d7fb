// io/diffusers_folder.cpp — a diffusers SD 1.x / 2.x / XL pipeline folder (model_index.json, unet/, vae/,
// text_encoder/, text_encoder_2/) read as the single-file checkpoint it was converted from: every tensor renamed to its
// LDM name (the inverse of diffusers' convert_ldm_unet_checkpoint / convert_ldm_vae_checkpoint /
// convert_ldm_clip_checkpoint), so detection, key checks and the models work unchanged.
//   unet   down_blocks.i.resnets.j     -> input_blocks.(1 + i (L+1) + j).0     (L = layers_per_block)
//          down_blocks.i.attentions.j  -> input_blocks.(1 + i (L+1) + j).1
//          down_blocks.i.downsamplers.0.conv -> input_blocks.((i+1)(L+1)).0.op
//          up_blocks.i.resnets.j / attentions.j -> output_blocks.(i (L+1) + j).0 / .1
//          up_blocks.i.upsamplers.0.conv -> output_blocks.(i (L+1) + L).(1 | 2 after an attention).conv
//          mid_block.resnets.0 / attentions.0 / resnets.1 -> middle_block.0 / .1 / .2
//          resnet: norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut
//               -> in_layers.0, in_layers.2, emb_layers.1, out_layers.0, out_layers.3, skip_connection
//   vae    {encoder.down_blocks.i, decoder.up_blocks.i} -> {encoder.down.i, decoder.up.(N-1-i)}, resnets -> block,
//          mid_block.resnets.0/1 -> mid.block_1/2, mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}
//          -> mid.attn_1.{norm,q,k,v,proj_out} ([C, C] -> [C, C, 1, 1]), conv_norm_out -> norm_out
//   text   CLIPTextModel (SD 1.x, SDXL's text_encoder): text_model.* -> <prefix>text_model.*
//          OpenCLIP towers (SD 2.x's text_encoder, SDXL's text_encoder_2): layers.N -> resblocks.N,
//          self_attn.{q,k,v}_proj -> attn.in_proj (concatenated), text_projection.weight -> its transpose
#include "io/diffusers_folder.h"

#include "io/model_family.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

namespace difu {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Json read_json(const fs::path& p) {
    std::ifstream in(p);
    if (!in) throw Error::at(p.string(), "cannot open");
    try {
        return Json::parse(in);
    } catch (const Json::exception& e) {
        throw Error::at(p.string(), "not valid JSON: {}", e.what());
    }
}

// The component's weights: safetensors preferred, torch .bin through the safe unpickler.
Checkpoint component_weights(const fs::path& dir, const char* stem) {
    for (const std::string& name : {std::string(stem) + ".safetensors", std::string(stem) + ".fp16.safetensors",
                                    std::string(stem) + ".bin"})
        if (fs::is_regular_file(dir / name)) return load_checkpoint((dir / name).string());
    throw Error::at(dir.string(), "no {}.safetensors or {}.bin", stem, stem);
}

int config_int(const Json& cfg, const char* key, const std::string& where) {
    auto it = cfg.find(key);
    if (it == cfg.end() || !it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 64)
        throw Error::at(where, "'{}' missing or out of range", key);
    return it->get<int>();
}

std::string resnet_part(const std::string& s) {
    static const std::pair<const char*, const char*> kNames[] = {
        {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
        {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
    for (const auto& [from, to] : kNames)
        if (s.rfind(std::string(from) + ".", 0) == 0) return std::string(to) + s.substr(std::string(from).size());
    return "";
}

// A diffusers UNet key's LDM name (relative to model.diffusion_model.), or "" for none.
std::string unet_name(const std::string& k, int L, const std::vector<bool>& up_has_attention) {
    static const std::regex kBlock(R"((down|up)_blocks\.(\d{1,4})\.(resnets|attentions|downsamplers|upsamplers)\.(\d{1,4})\.(.+))");
    static const std::regex kMid(R"(mid_block\.(resnets|attentions)\.(\d{1,4})\.(.+))");
    static const std::pair<const char*, const char*> kTop[] = {
        {"conv_in.", "input_blocks.0.0."},        {"time_embedding.linear_1.", "time_embed.0."},
        {"time_embedding.linear_2.", "time_embed.2."}, {"add_embedding.linear_1.", "label_emb.0.0."},
        {"add_embedding.linear_2.", "label_emb.0.2."}, {"conv_norm_out.", "out.0."}, {"conv_out.", "out.2."}};
    for (const auto& [from, to] : kTop)
        if (k.rfind(from, 0) == 0) return to + k.substr(std::string(from).size());
    std::smatch m;
    if (std::regex_match(k, m, kMid)) {
        const int j = std::stoi(m[2]);
        if (m[1] == "attentions") return "middle_block.1." + m[3].str();
        const std::string part = resnet_part(m[3]);
        return part.empty() ? "" : "middle_block." + std::to_string(j == 0 ? 0 : 2) + "." + part;
    }
    if (!std::regex_match(k, m, kBlock)) return "";
    const bool down = m[1] == "down";
    const int i = std::stoi(m[2]), j = std::stoi(m[4]);
    const std::string kind = m[3], rest = m[5];
    if (down) {
        if (kind == "downsamplers") return rest.rfind("conv.", 0) == 0 ? fmt::format("input_blocks.{}.0.op.{}", (i + 1) * (L + 1), rest.substr(5)) : "";
        const int block = 1 + i * (L + 1) + j;
        if (kind == "attentions") return fmt::format("input_blocks.{}.1.{}", block, rest);
        const std::string part = resnet_part(rest);
        return part.empty() ? "" : fmt::format("input_blocks.{}.0.{}", block, part);
    }
    if (kind == "upsamplers") {
        const bool attn = static_cast<size_t>(i) < up_has_attention.size() && up_has_attention[static_cast<size_t>(i)];
        return rest.rfind("conv.", 0) == 0 ? fmt::format("output_blocks.{}.{}.conv.{}", i * (L + 1) + L, attn ? 2 : 1, rest.substr(5)) : "";
    }
    const int block = i * (L + 1) + j;
    if (kind == "attentions") return fmt::format("output_blocks.{}.1.{}", block, rest);
    const std::string part = resnet_part(rest);
    return part.empty() ? "" : fmt::format("output_blocks.{}.0.{}", block, part);
}

// A diffusers VAE key's LDM name (relative to first_stage_model.), or "".
std::string vae_name(const std::string& k, int levels, bool* to_conv) {
    static const std::regex kBlock(R"((encoder\.down|decoder\.up)_blocks\.(\d{1,4})\.(resnets\.(\d{1,4})|downsamplers\.0|upsamplers\.0)\.(.+))");
    static const std::regex kMid(R"((encoder|decoder)\.mid_block\.(resnets\.(\d{1,4})|attentions\.0)\.(.+))");
    *to_conv = false;
    auto resnet = [](const std::string& r) { return r.rfind("conv_shortcut.", 0) == 0 ? "nin_shortcut." + r.substr(14) : r; };
    std::smatch m;
    if (std::regex_match(k, m, kBlock)) {
        const bool enc = m[1] == "encoder.down";
        const int i = std::stoi(m[2]);
        const std::string level = enc ? fmt::format("encoder.down.{}", i) : fmt::format("decoder.up.{}", levels - 1 - i);
        if (m[4].matched) return fmt::format("{}.block.{}.{}", level, m[4].str(), resnet(m[5]));
        return level + (enc ? ".downsample." : ".upsample.") + m[5].str();
    }
    if (std::regex_match(k, m, kMid)) {
        const std::string side = m[1];
        if (m[3].matched) return fmt::format("{}.mid.block_{}.{}", side, std::stoi(m[3]) + 1, resnet(m[4]));
        static const std::pair<const char*, const char*> kAttn[] = {
            {"group_norm.", "norm."}, {"to_q.", "q."}, {"to_k.", "k."}, {"to_v.", "v."}, {"to_out.0.", "proj_out."},
            {"query.", "q."}, {"key.", "k."}, {"value.", "v."}, {"proj_attn.", "proj_out."}};  // older diffusers names
        const std::string rest = m[4];
        for (const auto& [from, to] : kAttn)
            if (rest.rfind(from, 0) == 0) {
                *to_conv = std::string(from) != "group_norm.";
                return side + ".mid.attn_1." + to + rest.substr(std::string(from).size());
            }
        return "";
    }
    for (const char* side : {"encoder.", "decoder."})
        if (k.rfind(std::string(side) + "conv_norm_out.", 0) == 0) return side + std::string("norm_out.") + k.substr(std::strlen(side) + 14);
    return k;  // conv_in, conv_out, quant_conv, post_quant_conv keep their names
}

void add(Checkpoint& out, const std::string& where, const std::string& from, const std::string& to, Tensor t) {
    if (to.empty()) throw Error::at(where, "tensor '{}' has no counterpart in a Stable Diffusion checkpoint", from);
    if (!out.tensors.emplace(to, std::move(t)).second) throw Error::at(where, "two tensors map to '{}'", to);
}

// Where a pipeline's text encoders go in the single file.
struct TextSlot {
    const char* folder;      // text_encoder, text_encoder_2
    std::string ldm_prefix;  // cond_stage_model.transformer. / cond_stage_model.model. / conditioner.embedders.N...
    bool openclip;           // the single file keeps OpenCLIP's names (q, k, v fused, text_projection transposed)
};

bool has_component(const Json& index, const char* name) {  // "text_encoder": ["transformers", "CLIPTextModel"]
    auto it = index.find(name);
    return it != index.end() && it->is_array() && !it->empty() && (*it)[0].is_string();
}

bool is_sdxl_class(const std::string& cls) { return cls.rfind("StableDiffusionXL", 0) == 0; }

// SD 1.x / 2.x (StableDiffusion{,Img2Img,Inpaint}Pipeline) and SDXL base / refiner (StableDiffusionXL...).
std::vector<TextSlot> text_slots(const fs::path& root, const Json& index, const std::string& cls) {
    static const std::string kKnown[] = {"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline",
                                         "StableDiffusionInpaintPipeline", "StableDiffusionXLPipeline",
                                         "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline"};
    if (std::find(std::begin(kKnown), std::end(kKnown), cls) == std::end(kKnown))
        throw Error::at(root.string(), "a diffusers {} folder: difu reads Stable Diffusion 1.x / 2.x / XL pipeline folders "
                                       "(StableDiffusionPipeline, StableDiffusionXLPipeline, ...)",
                        cls.empty() ? "unknown" : cls);
    if (is_sdxl_class(cls)) {
        if (!has_component(index, "text_encoder_2")) throw Error::at(root.string(), "an SDXL folder without text_encoder_2");
        if (!has_component(index, "text_encoder"))  // the refiner: OpenCLIP bigG alone
            return {{"text_encoder_2", "conditioner.embedders.0.model.", true}};
        return {{"text_encoder", "conditioner.embedders.0.transformer.", false},
                {"text_encoder_2", "conditioner.embedders.1.model.", true}};
    }
    // SD 2.x's OpenCLIP ViT-H runs exact GELU; SD 1.x's openai CLIP quick_gelu.
    const fs::path cfg_path = root / "text_encoder" / "config.json";
    const bool openclip = read_json(cfg_path).value("hidden_act", "") == "gelu";
    return {{"text_encoder", openclip ? "cond_stage_model.model." : "cond_stage_model.transformer.", openclip}};
}

// A CLIPTextModel(WithProjection) under OpenCLIP's names: diffusers' convert_open_clip_checkpoint inverted.
void add_openclip_text(Checkpoint& out, const Checkpoint& text, const std::string& prefix) {
    static const std::regex kLayer(R"(text_model\.encoder\.layers\.(\d{1,4})\.(.+))");
    static const std::pair<const char*, const char*> kLayerParts[] = {
        {"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."}, {"mlp.fc1.", "mlp.c_fc."}, {"mlp.fc2.", "mlp.c_proj."},
        {"self_attn.out_proj.", "attn.out_proj."}};
    static const std::pair<const char*, const char*> kTop[] = {
        {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
        {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
        {"text_model.final_layer_norm.weight", "ln_final.weight"},
        {"text_model.final_layer_norm.bias", "ln_final.bias"}};
    std::map<std::string, std::array<Tensor, 3>> qkv;  // "resblocks.N.attn.in_proj_weight" -> q, k, v
    for (const auto& [k, t] : text.tensors) {
        if (k == "text_model.embeddings.position_ids") continue;  // an arange buffer
        if (k == "text_projection.weight") {  // Linear: y = x W^T; OpenCLIP: y = x P, so P = W^T
            if (t.ndim() != 2) throw Error::at(text.path, "tensor '{}' is not 2-d", k);
            add(out, text.path, k, prefix + "text_projection", t.permute({1, 0}).contiguous());
            continue;
        }
        std::string to;
        for (const auto& [from, name] : kTop)
            if (k == from) to = name;
        std::smatch m;
        if (to.empty() && std::regex_match(k, m, kLayer)) {
            const std::string block = "transformer.resblocks." + m[1].str() + ".", rest = m[2];
            for (const auto& [from, name] : kLayerParts)
                if (rest.rfind(from, 0) == 0) to = block + name + rest.substr(std::strlen(from));
            for (int i = 0; i < 3 && to.empty(); ++i) {
                const std::string proj = std::string("self_attn.") + "qkv"[i] + "_proj.";
                if (rest.rfind(proj, 0) != 0) continue;
                const std::string fused = block + "attn.in_proj_" + rest.substr(proj.size());
                qkv[fused][static_cast<size_t>(i)] = t;
                to = "-";  // placed below, once q, k and v are all there
            }
        }
        if (to == "-") continue;
        add(out, text.path, k, to.empty() ? "" : prefix + to, t);
    }
    for (auto& [fused, parts] : qkv) {  // in_proj = cat(q, k, v) along the output dimension
        for (const Tensor& p : parts)
            if (!p.defined()) throw Error::at(text.path, "'{}' needs q_proj, k_proj and v_proj; one is missing", fused);
        const Tensor& q = parts[0];
        Shape shape = q.shape();
        shape.at(0) *= 3;
        Tensor cat = Tensor::empty(shape, q.dtype());
        std::byte* dst = reinterpret_cast<std::byte*>(cat.storage()->data());
        for (const Tensor& p : parts) {
            if (p.shape() != q.shape() || p.dtype() != q.dtype())
                throw Error::at(text.path, "q, k and v of '{}' differ in shape or dtype", fused);
            const Tensor c = p.contiguous();
            std::memcpy(dst, c.raw(), c.nbytes());
            dst += c.nbytes();
        }
        add(out, text.path, fused, prefix + fused, cat);
    }
}

}  // namespace

std::string hashed_file(const std::string& path) {
    if (!is_diffusers_folder(path)) return path;
    for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                             "diffusion_pytorch_model.bin"})
        if (fs::is_regular_file(fs::path(path) / "unet" / name)) return (fs::path(path) / "unet" / name).string();
    return path;
}

bool is_diffusers_folder(const std::string& path) {
    return fs::is_directory(path) && fs::is_regular_file(fs::path(path) / "model_index.json");
}

void apply_diffusers_config(const std::string& folder, ModelConfig& cfg) {
    const fs::path root(folder);
    const auto conventions = describe(cfg.family).text_encoders;
    for (size_t i = 0; i < cfg.text_encoders.size() && i < conventions.size(); ++i) {
        TextConfig& t = cfg.text_encoders[i];
        t.layer = std::max(1, t.layer - conventions[i].diffusers_dropped_layers);
    }
    const fs::path scheduler = root / "scheduler" / "scheduler_config.json";
    if (!fs::is_regular_file(scheduler)) return;
    const Json s = read_json(scheduler);
    const auto type = s.find("prediction_type");
    if (type == s.end()) return;
    if (*type == "v_prediction") cfg.schedule.prediction = Prediction::V;
    else if (*type == "epsilon") cfg.schedule.prediction = Prediction::Eps;
    else throw Error::at(scheduler.string(), "prediction_type {} is not one difu knows (epsilon, v_prediction)", type->dump());
    cfg.schedule.prediction_known = true;
    cfg.config_source = scheduler.string();
}

Checkpoint load_diffusers_folder(const std::string& path) {
    const fs::path root(path);
    const Json index = read_json(root / "model_index.json");
    const std::string cls = index.value("_class_name", "");
    const std::vector<TextSlot> slots = text_slots(root, index, cls);
    Checkpoint out;
    out.path = path;
    out.format = CheckpointFormat::Safetensors;
    const fs::path unet_dir = root / "unet";
    const Json ucfg = read_json(unet_dir / "config.json");
    const int L = config_int(ucfg, "layers_per_block", (unet_dir / "config.json").string());
    std::vector<bool> up_has_attention;
    for (const auto& t : ucfg.value("up_block_types", Json::array()))
        up_has_attention.push_back(t.is_string() && t.get<std::string>().find("CrossAttn") != std::string::npos);
    const Checkpoint unet = component_weights(unet_dir, "diffusion_pytorch_model");
    for (const auto& [k, t] : unet.tensors) add(out, unet.path, k, "model.diffusion_model." + unet_name(k, L, up_has_attention), t);

    const fs::path vae_dir = root / "vae";
    const Json vcfg = read_json(vae_dir / "config.json");
    const int levels = static_cast<int>(vcfg.value("block_out_channels", Json::array()).size());
    if (levels < 1) throw Error::at((vae_dir / "config.json").string(), "'block_out_channels' missing");
    const Checkpoint vae = component_weights(vae_dir, "diffusion_pytorch_model");
    for (const auto& [k, t] : vae.tensors) {
        bool to_conv = false;
        const std::string name = vae_name(k, levels, &to_conv);
        // diffusers keeps the mid-block attention as Linear [C, C]; LDM as 1x1 Conv2d [C, C, 1, 1].
        add(out, vae.path, k, "first_stage_model." + name,
            to_conv && t.ndim() == 2 ? t.reshape({t.dim(0), t.dim(1), 1, 1}) : t);
    }

    for (const TextSlot& slot : slots) {
        const Checkpoint text = component_weights(root / slot.folder, "model");
        if (slot.openclip) {
            add_openclip_text(out, text, slot.ldm_prefix);
            continue;
        }
        for (const auto& [k, t] : text.tensors) {
            if (k.rfind("text_model.", 0) != 0) throw Error::at(text.path, "tensor '{}' is not under 'text_model.'", k);
            add(out, text.path, k, slot.ldm_prefix + k, t);
        }
    }
    return out;
}

}  // namespace difu
