#include "io/lora_file.h"

#include <nlohmann/json.hpp>

#include <map>

#include "io/checkpoint.h"

namespace difu {
namespace {

// Suffix -> role of a tensor of a LoRA module.
enum class Role { Down, Up, Alpha };
struct Suffix {
    const char* text;
    Role role;
};
constexpr Suffix kSuffixes[] = {{".lora_down.weight", Role::Down}, {".lora_up.weight", Role::Up},
                                {".lora_A.weight", Role::Down},    {".lora_B.weight", Role::Up},
                                {".lora.down.weight", Role::Down}, {".lora.up.weight", Role::Up},
                                {".alpha", Role::Alpha}};
// LyCORIS tensors difu recognises but does not apply yet: named in the error.
constexpr const char* kLycorisMarkers[] = {".hada_w1_a", ".lokr_w1", ".lokr_w2", ".dora_scale", ".ia3_w"};

// PEFT / diffusers component prefix -> kohya prefix.
constexpr std::pair<const char*, const char*> kPeftPrefixes[] = {
    {"unet.", "lora_unet_"}, {"text_encoder_2.", "lora_te2_"}, {"text_encoder.", "lora_te1_"}};

std::string underscored(std::string s) {
    for (char& c : s)
        if (c == '.') c = '_';
    return s;
}

struct Parts {
    Tensor down, up;
    std::optional<float> alpha;
};

}  // namespace

LoraFile read_lora(const std::string& path) {
    const Checkpoint ck = load_checkpoint(path);
    LoraFile out;
    out.path = path;
    std::map<std::string, Parts> modules;  // by canonical name
    std::map<std::string, float> component_alpha;  // PEFT metadata: "lora_unet_" -> alpha
    if (auto it = ck.metadata.find("lora_adapter_metadata"); it != ck.metadata.end()) {
        const nlohmann::json meta = nlohmann::json::parse(it->second, nullptr, false);
        if (!meta.is_object()) throw Error::at(path, "metadata 'lora_adapter_metadata' is not a JSON object");
        for (const auto& [peft, kohya] : kPeftPrefixes) {
            const std::string component = std::string(peft).substr(0, std::strlen(peft) - 1);
            auto a = meta.find(component + ".lora_alpha");
            if (a != meta.end() && a->is_number()) component_alpha[kohya] = a->get<float>();
        }
    }
    if (ck.tensors.count("model.diffusion_model.input_blocks.0.0.weight") || ck.tensors.count("conv_in.weight"))
        throw Error::at(path, "is a Stable Diffusion model, not a LoRA");
    bool kohya = false, peft = false;
    for (const auto& [key, t] : ck.tensors) {
        const bool full_diff = key.size() > 5 && (key.compare(key.size() - 5, 5, ".diff") == 0 || key.find(".diff_b") != std::string::npos);
        if (full_diff) throw Error::at(path, "tensor '{}' is a full weight difference; difu applies low-rank LoRA modules so far", key);
        for (const char* marker : kLycorisMarkers)
            if (key.find(marker) != std::string::npos)
                throw Error::at(path, "tensor '{}' is a LyCORIS / DoRA part ({}); difu applies plain LoRA (LoCon) networks so far",
                                key, std::string(marker).substr(1));
        const Suffix* suffix = nullptr;
        for (const Suffix& s : kSuffixes)
            if (key.size() > std::strlen(s.text) && key.compare(key.size() - std::strlen(s.text), std::string::npos, s.text) == 0) {
                suffix = &s;
                break;
            }
        if (!suffix) throw Error::at(path, "tensor '{}' is not part of a LoRA module (…lora_down / lora_up / lora_A / lora_B / alpha)", key);
        std::string module = key.substr(0, key.size() - std::strlen(suffix->text));
        if (module.rfind("lora_unet_", 0) == 0 || module.rfind("lora_te", 0) == 0) {
            kohya = true;
        } else {
            std::string name;
            for (const auto& [from, to] : kPeftPrefixes)
                if (module.rfind(from, 0) == 0) {
                    name = to + underscored(module.substr(std::strlen(from)));
                    break;
                }
            if (name.empty())
                throw Error::at(path, "tensor '{}': a LoRA module must start with lora_unet_, lora_te, unet., text_encoder. or "
                                      "text_encoder_2.", key);
            module = name;
            peft = true;
        }
        Parts& p = modules[module];
        if (suffix->role == Role::Alpha) {
            if (t.numel() != 1) throw Error::at(path, "'{}' holds {} values; an alpha is one number", key, t.numel());
            p.alpha = t.to(DType::F32).f32()[0];
        } else {
            if (t.ndim() != 2 && t.ndim() != 4) throw Error::at(path, "'{}' is {}: LoRA matrices are 2-d (linear) or 4-d (conv)", key, shape_str(t.shape()));
            if (!is_float(t.dtype())) throw Error::at(path, "'{}' is {}, not a float tensor", key, dtype_name(t.dtype()));
            (suffix->role == Role::Down ? p.down : p.up) = t;
        }
    }
    if (modules.empty()) throw Error::at(path, "holds no LoRA modules");
    out.format = kohya && peft ? "kohya+peft" : kohya ? "kohya" : "peft";
    for (auto& [name, p] : modules) {
        if (!p.down.defined() || !p.up.defined())
            throw Error::at(path, "LoRA module '{}' has no {} matrix", name, p.down.defined() ? "up" : "down");
        const int64_t r = p.down.dim(0);
        if (p.up.dim(1) != r || (p.up.ndim() == 4 && (p.up.dim(2) != 1 || p.up.dim(3) != 1)) || r < 1)
            throw Error::at(path, "LoRA module '{}': down {} and up {} do not make a rank-{} product", name,
                            shape_str(p.down.shape()), shape_str(p.up.shape()), r);
        float alpha = static_cast<float>(r);  // kohya without .alpha, PEFT without metadata: scale 1
        if (p.alpha) alpha = *p.alpha;
        else
            for (const auto& [prefix, a] : component_alpha)
                if (name.rfind(prefix, 0) == 0) alpha = a;
        out.modules.push_back({name, p.down, p.up, alpha});
    }
    return out;
}

}  // namespace difu
