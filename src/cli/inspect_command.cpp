// cli/inspect_command.cpp — `difu inspect CHECKPOINT [--json]`: what a checkpoint is and holds.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/checkpoint.h"
#include "io/embedding_file.h"
#include "io/lora_file.h"
#include "io/model_config.h"

namespace difu::cli {
namespace {

struct ComponentStats {
    int64_t tensors = 0, params = 0;
};

// Components by checkpoint prefix, in the order a reader thinks of them.
std::string component_of(const std::string& name, const ModelConfig& cfg) {
    if (name.rfind(cfg.unet_prefix, 0) == 0) return "unet";
    if (name.rfind(cfg.vae_prefix, 0) == 0) return "vae";
    if (name.rfind("cond_stage_model.", 0) == 0 || name.rfind("conditioner.", 0) == 0) return "text_encoder";
    if (name.rfind("model_ema.", 0) == 0) return "ema";
    return "other";
}

nlohmann::ordered_json config_json(const ModelConfig& c) {
    const auto& u = c.unet;
    nlohmann::ordered_json j;
    j["unet"] = {{"in_channels", u.in_channels}, {"out_channels", u.out_channels}, {"model_channels", u.model_channels},
                 {"channel_mult", u.channel_mult}, {"num_res_blocks", u.num_res_blocks},
                 {"attention_resolutions", u.attention_resolutions()}, {"transformer_depth", u.transformer_depth},
                 {"middle_transformer_depth", u.middle_transformer_depth}, {"context_dim", u.context_dim},
                 {"num_heads", u.num_heads}, {"num_head_channels", u.num_head_channels},
                 {"use_linear_in_transformer", u.use_linear_in_transformer}, {"adm_in_channels", u.adm_in_channels}};
    j["vae"] = {{"ch", c.vae.ch}, {"ch_mult", c.vae.ch_mult}, {"num_res_blocks", c.vae.num_res_blocks},
                {"z_channels", c.vae.z_channels}, {"embed_dim", c.vae.embed_dim}, {"scale_factor", c.vae.scale_factor}};
    auto text_json = [](const TextConfig& t) {
        return nlohmann::ordered_json{{"prefix", t.prefix},
                                      {"naming", t.naming == TextConfig::Naming::HuggingFace ? "huggingface" : "openclip"},
                                      {"width", t.width}, {"layers", t.layers}, {"heads", t.heads},
                                      {"intermediate", t.intermediate}, {"vocab_size", t.vocab_size},
                                      {"context_length", t.context_length},
                                      {"activation", t.quick_gelu ? "quick_gelu" : "gelu"}, {"layer_from_end", t.layer},
                                      {"final_norm", t.final_norm}, {"pad_token", t.pad_token},
                                      {"pooled_dim", t.pooled_dim}};
    };
    j["text_encoder"] = text_json(c.text());  // the first, under the name earlier versions used
    j["text_encoders"] = nlohmann::ordered_json::array();
    for (const TextConfig& t : c.text_encoders) j["text_encoders"].push_back(text_json(t));
    j["schedule"] = {{"timesteps", c.schedule.timesteps}, {"linear_start", c.schedule.linear_start},
                     {"linear_end", c.schedule.linear_end},
                     {"prediction", !c.schedule.prediction_known ? "unknown (eps or v)"
                                    : c.schedule.prediction == Prediction::V ? "v" : "eps"}};
    return j;
}

void print_list(const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    constexpr size_t kShown = 10;
    fmt::print("{} ({}):\n", title, items.size());
    for (size_t i = 0; i < items.size() && i < kShown; ++i) fmt::print("  {}\n", items[i]);
    if (items.size() > kShown) fmt::print("  ... and {} more (--json lists all)\n", items.size() - kShown);
}

// A LoRA or an embedding instead of a model: what it holds. False when the file is neither.
bool inspect_add_on(const std::string& path, bool json) {
    nlohmann::ordered_json j;
    try {
        const LoraFile lora = read_lora(path);
        std::map<std::string, int> kinds, components;
        std::map<int64_t, int> ranks;
        for (const LoraModule& m : lora.modules) {
            ++kinds[std::string(lora_kind_name(m.kind)) + (m.dora_scale.defined() ? " (DoRA)" : "")];
            ++components[m.name.rfind("lora_unet_", 0) == 0 ? "unet" : m.name.substr(0, m.name.find('_', 5))];
            ++ranks[m.rank()];
        }
        j = {{"path", path}, {"kind", "lora"}, {"format", lora.format}, {"modules", lora.modules.size()},
             {"module_kinds", kinds}, {"components", components}, {"ranks", ranks}};
    } catch (const Error&) {
        try {
            const EmbeddingFile e = read_embedding(path);
            std::vector<nlohmann::ordered_json> parts;
            for (const auto& p : e.parts) parts.push_back({{"encoder", p.encoder}, {"shape", p.vectors.shape()}});
            j = {{"path", path}, {"kind", "embedding"}, {"name", e.name}, {"vectors", e.vectors()}, {"parts", parts}};
        } catch (const Error&) {
            return false;
        }
    }
    if (json) fmt::print("{}\n", j.dump(2));
    else {
        fmt::print("{}\n", path);
        for (const auto& [k, v] : j.items())
            if (k != "path") fmt::print("  {:<13}{}\n", k, v.is_string() ? v.get<std::string>() : v.dump());
    }
    return true;
}

void run_inspect(const std::string& path, bool json) {
    const auto t0 = std::chrono::steady_clock::now();
    Checkpoint ck = load_checkpoint(path);
    const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ModelConfig cfg;
    try {
        cfg = detect_model(ck);
    } catch (const Error&) {
        if (inspect_add_on(path, json)) return;
        throw;
    }
    KeyReport keys = check_keys(ck, cfg);

    std::map<std::string, int64_t> dtypes;
    std::map<std::string, ComponentStats> comps;
    for (const auto& [name, t] : ck.tensors) {
        ++dtypes[std::string(dtype_name(t.dtype()))];
        auto& c = comps[component_of(name, cfg)];
        ++c.tensors;
        c.params += t.numel();
    }
    if (json) {
        nlohmann::ordered_json j;
        j["path"] = path;
        j["format"] = std::string(format_name(ck.format));
        j["family"] = std::string(family_name(cfg.family));
        j["variant"] = cfg.variant.empty() ? "txt2img" : cfg.variant;
        j["name"] = cfg.display_name();
        if (cfg.turbo()) j["turbo_evidence"] = cfg.turbo_evidence;
        j["supported"] = cfg.supported();
        if (!cfg.supported()) j["unsupported_reason"] = cfg.unsupported_reason();
        j["config_source"] = cfg.config_source;
        j["tensors"] = ck.tensors.size();
        j["bytes"] = ck.total_bytes();
        j["dtypes"] = dtypes;
        for (const auto& [name, c] : comps) j["components"][name] = {{"tensors", c.tensors}, {"parameters", c.params}};
        j["config"] = config_json(cfg);
        j["keys"] = {{"used", keys.used}, {"ignored", keys.ignored}, {"missing", keys.missing},
                     {"wrong_shape", keys.wrong_shape}, {"unknown", keys.unknown}};
        j["load_ms"] = load_ms;
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("{}\n  format   {}, {} tensors, {:.1f} MB, loaded in {:.0f} ms\n", path, format_name(ck.format),
               ck.tensors.size(), ck.total_bytes() / 1e6, load_ms);
    fmt::print("  family   {}{}\n", cfg.display_name(), cfg.turbo() ? " (by " + cfg.turbo_evidence + ")" : "");
    fmt::print("  status   {}\n", cfg.supported() ? "supported" : "not supported: " + cfg.unsupported_reason());
    std::vector<std::string> dt;
    for (const auto& [k, v] : dtypes) dt.push_back(fmt::format("{} {}", k, v));
    fmt::print("  dtypes   {}\n", fmt::join(dt, ", "));
    for (const auto& [name, c] : comps)
        fmt::print("  {:<13}{:>5} tensors {:>14} parameters\n", name, c.tensors, c.params);
    const auto& u = cfg.unet;
    fmt::print("UNet       channels {}, mult {}, {} res blocks/level, attention at {} (depth {}), context {}, {}\n",
               u.model_channels, u.channel_mult, u.num_res_blocks, u.attention_resolutions(), u.transformer_depth,
               u.context_dim,
               u.num_head_channels > 0 ? fmt::format("{} channels/head", u.num_head_channels) : fmt::format("{} heads", u.num_heads));
    fmt::print("           in {} -> out {} channels, proj_in/out as {}\n", u.in_channels, u.out_channels,
               u.use_linear_in_transformer ? "linear" : "1x1 conv");
    fmt::print("VAE        ch {}, mult {}, {} res blocks/level, z {}, scale factor {}\n", cfg.vae.ch, cfg.vae.ch_mult,
               cfg.vae.num_res_blocks, cfg.vae.z_channels, cfg.vae.scale_factor);
    for (const TextConfig& t : cfg.text_encoders)
        fmt::print("Text       {} width {}, {} layers, {} heads, mlp {}, {}; context = {} layer{}, pad token {}{}\n",
                   t.naming == TextConfig::Naming::OpenClip ? "OpenCLIP" : "CLIP", t.width, t.layers, t.heads,
                   t.intermediate, t.quick_gelu ? "quick_gelu" : "gelu",
                   t.clip_skip_applies ? "the clip skip setting's" : t.layer == 2 ? "the penultimate" : "the last",
                   t.final_norm ? " + final norm" : "", t.pad_token,
                   t.pooled_dim > 0 ? fmt::format("; pooled {}", t.pooled_dim) : "");
    fmt::print("Schedule   {} steps, betas {}..{} (scaled linear), prediction {}\n", cfg.schedule.timesteps,
               cfg.schedule.linear_start, cfg.schedule.linear_end,
               !cfg.schedule.prediction_known ? "unknown from the keys (eps or v; a sidecar .yaml can say)"
               : cfg.schedule.prediction == Prediction::V ? "v" : "eps");
    fmt::print("Config     {}\n", cfg.config_source);
    fmt::print("Keys       {} used, {} ignored (EMA copies, training buffers), {} missing, {} unknown\n", keys.used,
               keys.ignored, keys.missing.size() + keys.wrong_shape.size(), keys.unknown.size());
    print_list("Missing tensors", keys.missing);
    print_list("Tensors with the wrong shape", keys.wrong_shape);
    print_list("Unknown tensors", keys.unknown);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("inspect", "Show a checkpoint's family, hyper-parameters, dtypes and key check "
                                              "(or what a LoRA / embedding file holds)");
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("checkpoint", *path, "Model file (.safetensors, .ckpt)")->required();
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->callback([path, json] { run_inspect(*path, *json); });
}

}  // namespace difu::cli
