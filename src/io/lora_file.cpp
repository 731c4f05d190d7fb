#include "io/lora_file.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <map>

#include "io/checkpoint.h"

namespace difu {
namespace {

// Suffix -> the tensor of a module it is.
enum class Role { Down, Up, Alpha, DoraScale, HadaW1A, HadaW1B, HadaW2A, HadaW2B, LokrW1, LokrW1A, LokrW1B, LokrW2, LokrW2A, LokrW2B,
                  Diff, DiffBias };
struct Suffix {
    const char* text;
    Role role;
};
constexpr Suffix kSuffixes[] = {
    {".lora_down.weight", Role::Down}, {".lora_up.weight", Role::Up}, {".lora_A.weight", Role::Down},
    {".lora_B.weight", Role::Up},      {".lora.down.weight", Role::Down}, {".lora.up.weight", Role::Up},
    {".alpha", Role::Alpha},           {".dora_scale", Role::DoraScale}, {".hada_w1_a", Role::HadaW1A}, {".hada_w1_b", Role::HadaW1B},
    {".hada_w2_a", Role::HadaW2A},     {".hada_w2_b", Role::HadaW2B}, {".lokr_w1", Role::LokrW1},
    {".lokr_w1_a", Role::LokrW1A},     {".lokr_w1_b", Role::LokrW1B}, {".lokr_w2", Role::LokrW2},
    {".lokr_w2_a", Role::LokrW2A},     {".lokr_w2_b", Role::LokrW2B}, {".diff", Role::Diff},
    {".diff_b", Role::DiffBias},       {".w_norm", Role::Diff},       {".b_norm", Role::DiffBias}};
// LyCORIS variants difu recognises but does not apply yet: named in the error.
constexpr const char* kUnsupportedMarkers[] = {".hada_t1", ".hada_t2", ".lokr_t2", ".ia3_w"};

// PEFT / diffusers component prefix -> kohya prefix.
constexpr std::pair<const char*, const char*> kPeftPrefixes[] = {
    {"unet.", "lora_unet_"}, {"text_encoder_2.", "lora_te2_"}, {"text_encoder.", "lora_te1_"}};


// The module's tensor slot for a role, and its kind.
Tensor& slot(LoraModule& m, Role role) {
    switch (role) {
        case Role::Down: return m.down;
        case Role::Up: return m.up;
        case Role::HadaW1A: m.kind = LoraKind::LoHa; return m.w1a;
        case Role::HadaW1B: m.kind = LoraKind::LoHa; return m.w1b;
        case Role::HadaW2A: m.kind = LoraKind::LoHa; return m.w2a;
        case Role::HadaW2B: m.kind = LoraKind::LoHa; return m.w2b;
        case Role::LokrW1: m.kind = LoraKind::LoKr; return m.w1;
        case Role::LokrW1A: m.kind = LoraKind::LoKr; return m.w1a;
        case Role::LokrW1B: m.kind = LoraKind::LoKr; return m.w1b;
        case Role::LokrW2: m.kind = LoraKind::LoKr; return m.w2;
        case Role::LokrW2A: m.kind = LoraKind::LoKr; return m.w2a;
        case Role::LokrW2B: m.kind = LoraKind::LoKr; return m.w2b;
        case Role::DoraScale: return m.dora_scale;
        case Role::Diff: m.kind = LoraKind::Full; return m.diff;
        case Role::DiffBias: m.kind = LoraKind::Full; return m.diff_b;
        case Role::Alpha: break;
    }
    throw Error::make("no tensor slot for an alpha");
}

// "" when the module has what its kind needs and the shapes chain, else what is wrong.
std::string incomplete(const LoraModule& m) {
    auto chain = [](const Tensor& a, const Tensor& b) { return a.defined() && b.defined() && a.ndim() == 2 && a.dim(1) == b.dim(0); };
    switch (m.kind) {
        case LoraKind::LoRA:
            if (!m.down.defined() || !m.up.defined()) return fmt::format("has no {} matrix", m.down.defined() ? "up" : "down");
            if (m.up.dim(1) != m.down.dim(0) || (m.up.ndim() == 4 && (m.up.dim(2) != 1 || m.up.dim(3) != 1)))
                return fmt::format("down {} and up {} do not make a rank-{} product", shape_str(m.down.shape()),
                                   shape_str(m.up.shape()), m.down.dim(0));
            return "";
        case LoraKind::LoHa:
            return chain(m.w1a, m.w1b) && chain(m.w2a, m.w2b) ? "" : "needs hada_w1_a · hada_w1_b and hada_w2_a · hada_w2_b";
        case LoraKind::LoKr: {
            const bool one = m.w1.defined() || chain(m.w1a, m.w1b), two = m.w2.defined() || chain(m.w2a, m.w2b);
            return one && two ? "" : "needs lokr_w1 (or lokr_w1_a · lokr_w1_b) and lokr_w2 (or lokr_w2_a · lokr_w2_b)";
        }
        case LoraKind::Full: return m.diff_b.defined() && m.diff_b.ndim() != 1 ? "has a bias difference that is not a vector" : "";
    }
    return "";
}

}  // namespace

std::string kohya_module_name(const std::string& prefix, std::string module_path) {
    for (char& c : module_path)
        if (c == '.') c = '_';
    return prefix + module_path;
}

const char* lora_kind_name(LoraKind k) {
    switch (k) {
        case LoraKind::LoRA: return "LoRA";
        case LoraKind::LoHa: return "LoHa";
        case LoraKind::LoKr: return "LoKr";
        case LoraKind::Full: return "full";
    }
    return "?";
}

int64_t LoraModule::rank() const {
    switch (kind) {
        case LoraKind::LoRA: return down.defined() ? down.dim(0) : 0;
        case LoraKind::LoHa: return w1b.defined() ? w1b.dim(0) : 0;
        case LoraKind::LoKr: return w2b.defined() ? w2b.dim(0) : w1b.defined() ? w1b.dim(0) : 0;
        case LoraKind::Full: return 0;  // no rank: scale 1, as webui's full / norm modules
    }
    return 0;
}

LoraFile read_lora(const std::string& path) {
    const Checkpoint ck = load_checkpoint(path);
    LoraFile out;
    out.path = path;
    std::map<std::string, LoraModule> modules;  // by canonical name
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
        for (const char* marker : kUnsupportedMarkers)
            if (key.find(marker) != std::string::npos)
                throw Error::at(path, "tensor '{}' is a LyCORIS part difu does not apply yet ({}; LoRA, LoCon, LoHa and LoKr are)",
                                key, std::string(marker).substr(1));
        const Suffix* suffix = nullptr;
        for (const Suffix& s : kSuffixes)
            if (key.size() > std::strlen(s.text) && key.ends_with(s.text)) {  // a module name before the suffix
                suffix = &s;
                break;
            }
        if (!suffix)
            throw Error::at(path, "tensor '{}' is not part of a LoRA module (lora_down / lora_up / lora_A / lora_B / alpha, "
                                  "dora_scale, hada_*, lokr_*, diff, diff_b, w_norm, b_norm)", key);
        std::string module = key.substr(0, key.size() - std::strlen(suffix->text));
        if (module.rfind("lora_unet_", 0) == 0 || module.rfind("lora_te", 0) == 0) {
            kohya = true;
        } else {
            std::string name;
            for (const auto& [from, to] : kPeftPrefixes)
                if (module.rfind(from, 0) == 0) {
                    name = kohya_module_name(to, module.substr(std::strlen(from)));
                    break;
                }
            if (name.empty())
                throw Error::at(path, "tensor '{}': a LoRA module must start with lora_unet_, lora_te, unet., text_encoder. or "
                                      "text_encoder_2.", key);
            module = name;
            peft = true;
        }
        LoraModule& m = modules[module];
        m.name = module;
        if (suffix->role == Role::Alpha) {
            if (t.numel() != 1) throw Error::at(path, "'{}' holds {} values; an alpha is one number", key, t.numel());
            m.alpha = t.to(DType::F32).f32()[0];
        } else if (suffix->role == Role::DoraScale) {
            if (!is_float(t.dtype()) || t.ndim() < 1 || t.ndim() > 4)
                throw Error::at(path, "'{}' is {} {}: a DoRA magnitude is a float vector", key, dtype_name(t.dtype()), shape_str(t.shape()));
            m.dora_scale = t;
        } else {
            const bool full = suffix->role == Role::Diff || suffix->role == Role::DiffBias;
            if (!full && t.ndim() != 2 && t.ndim() != 4)
                throw Error::at(path, "'{}' is {}: LoRA matrices are 2-d (linear) or 4-d (conv)", key, shape_str(t.shape()));
            if (full && (t.ndim() < 1 || t.ndim() > 4)) throw Error::at(path, "'{}' is {}: not a weight's shape", key, shape_str(t.shape()));
            if (!is_float(t.dtype())) throw Error::at(path, "'{}' is {}, not a float tensor", key, dtype_name(t.dtype()));
            const LoraKind before = m.kind;
            Tensor& dst = slot(m, suffix->role);
            const bool lora_part = suffix->role == Role::Down || suffix->role == Role::Up;
            if ((lora_part && before != LoraKind::LoRA) || (!lora_part && (m.down.defined() || m.up.defined())) ||
                (!lora_part && before != LoraKind::LoRA && before != m.kind))
                throw Error::at(path, "module '{}' mixes LoRA, LoHa and LoKr tensors", module);
            dst = t;
        }
    }
    if (modules.empty()) throw Error::at(path, "holds no LoRA modules");
    out.format = kohya && peft ? "kohya+peft" : kohya ? "kohya" : "peft";
    for (auto& [name, m] : modules) {
        if (const std::string why = incomplete(m); !why.empty()) throw Error::at(path, "module '{}' {}", name, why);
        if (!m.alpha)  // kohya without .alpha: scale 1; PEFT: its component's lora_alpha from the metadata
            for (const auto& [prefix, a] : component_alpha)
                if (name.rfind(prefix, 0) == 0) m.alpha = a;
        out.modules.push_back(std::move(m));
    }
    return out;
}

}  // namespace difu
