#include "io/lora_merge.h"

#include <cstring>
#include <filesystem>

#include "io/checkpoint_convert.h"

namespace difu {
namespace {

// The kohya prefixes of text encoder i: a single encoder is lora_te_ (kohya) or lora_te1_ (diffusers'
// converter); SDXL's two are lora_te1_ and lora_te2_.
std::vector<std::string> text_prefixes(size_t i, size_t count) {
    if (count == 1) return {"lora_te_", "lora_te1_"};
    return {"lora_te" + std::to_string(i + 1) + "_"};
}

// An OpenCLIP tower's weight -> its CLIPTextModel module(s) (relative to text_model.), with row ranges.
void add_openclip_targets(std::map<std::string, LoraTarget>& out, const std::vector<std::string>& prefixes,
                          const std::string& key, const std::string& rest, int64_t width) {
    static const std::pair<const char*, const char*> kParts[] = {
        {"attn.out_proj.weight", "self_attn_out_proj"}, {"mlp.c_fc.weight", "mlp_fc1"}, {"mlp.c_proj.weight", "mlp_fc2"}};
    const std::string block = "transformer.resblocks.";
    if (rest.rfind(block, 0) != 0) return;
    const size_t dot = rest.find('.', block.size());
    if (dot == std::string::npos) return;
    const std::string layer = rest.substr(block.size(), dot - block.size()), part = rest.substr(dot + 1);
    const std::string head = "text_model_encoder_layers_" + layer + "_";
    for (const std::string& p : prefixes) {
        for (const auto& [from, to] : kParts)
            if (part == from) out[p + head + to] = {key, 0, 0, true};
        if (part == "attn.in_proj_weight")
            for (int i = 0; i < 3; ++i) out[p + head + "self_attn_" + "qkv"[i] + "_proj"] = {key, i * width, width, true};
    }
}

// [rows, cols] of a 2-d or 4-d weight / LoRA matrix (4-d: cols = in · kh · kw).
int64_t cols_of(const Tensor& t) { return t.ndim() == 1 ? 1 : t.numel() / t.dim(0); }

// a [m, r] · b [r, n] (b may be 4-d: [r, in, kh, kw] read as [r, in·kh·kw]) in fp32, k in order.
Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
    const Tensor a = a_in.to(DType::F32), b = b_in.to(DType::F32);
    const int64_t m = a.dim(0), r = a.dim(1), n = cols_of(b);
    if (b.dim(0) != r) throw Error::make("matrices {} and {} do not chain", shape_str(a.shape()), shape_str(b.shape()));
    Tensor out = Tensor::empty({m, n});
    const float* ap = a.data<float>();
    const float* bp = b.data<float>();
    float* o = out.mutable_data<float>();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < r; ++k) {
            const float aik = ap[i * r + k];
            const float* bk = bp + k * n;
            float* oi = o + i * n;
            for (int64_t j = 0; j < n; ++j) oi[j] += aik * bk[j];
        }
    return out;
}

// A LoKr factor: whole, or the product of its two parts.
Tensor factor(const Tensor& whole, const Tensor& a, const Tensor& b) { return whole.defined() ? whole.to(DType::F32) : matmul(a, b); }

// kron(w1 [p, q], w2 [s, t(·k)]) as [p·s, q·t(·k)]: entry (i·s + k, (j·t + l)·kk + x) = w1[i, j] · w2[k, l, x]
// (torch.kron with w1 unsqueezed to 4-d for a conv w2, then reshaped to the weight).
Tensor kron(const Tensor& w1, const Tensor& w2) {
    const int64_t p = w1.dim(0), q = w1.dim(1), s = w2.dim(0), t = w2.dim(1), kk = w2.numel() / (s * t);
    Tensor out = Tensor::empty({p * s, q * t * kk});
    const float* a = w1.data<float>();
    const float* b = w2.data<float>();
    float* o = out.mutable_data<float>();
    for (int64_t i = 0; i < p; ++i)
        for (int64_t k = 0; k < s; ++k)
            for (int64_t j = 0; j < q; ++j)
                for (int64_t l = 0; l < t; ++l)
                    for (int64_t x = 0; x < kk; ++x)
                        o[(i * s + k) * q * t * kk + (j * t + l) * kk + x] = a[i * q + j] * b[(k * t + l) * kk + x];
    return out;
}

// The module's ΔW as [rows, cols] F32 (before its multiplier and scale).
Tensor update_of(const LoraModule& m) {
    switch (m.kind) {
        case LoraKind::LoRA: return matmul(m.up.reshape({m.up.dim(0), m.up.dim(1)}), m.down);
        case LoraKind::LoHa: {
            Tensor a = matmul(m.w1a, m.w1b);
            const Tensor b = matmul(m.w2a, m.w2b);
            if (a.shape() != b.shape()) throw Error::make("its two Hadamard factors are {} and {}", shape_str(a.shape()), shape_str(b.shape()));
            float* ap = a.mutable_data<float>();
            const float* bp = b.data<float>();
            for (int64_t i = 0; i < a.numel(); ++i) ap[i] *= bp[i];
            return a;
        }
        case LoraKind::LoKr: return kron(factor(m.w1, m.w1a, m.w1b), factor(m.w2, m.w2a, m.w2b));
        case LoraKind::Full: {
            const Tensor d = m.diff.to(DType::F32).contiguous();
            return d.reshape({d.dim(0), cols_of(d)});
        }
    }
    throw Error::make("unknown LoRA kind");
}

// webui's NetworkModule.apply_weight_decompose: with V = W + ΔW (ΔW before scale and multiplier), the
// DoRA update is V · (m / ||V||) - W, the norm taken per input channel (kohya's [1, in] magnitudes: over
// the output rows and the kernel) or per output row (LyCORIS / PEFT's [out, 1]: over the row).
// `w` is the target's [rows, cols] slice of the weight, `in_channels` its dim 1.
Tensor dora_update(const Tensor& delta, const float* w, int64_t in_channels, const Tensor& magnitude_in) {
    const Tensor magnitude = magnitude_in.to(DType::F32);
    const int64_t rows = delta.dim(0), cols = delta.dim(1), kernel = cols / in_channels;
    const bool per_row = magnitude.numel() == rows && magnitude.dim(0) == rows && (rows != in_channels || magnitude.ndim() >= 2);
    if (!per_row && magnitude.numel() != in_channels)
        throw Error::make("DoRA magnitudes {} fit neither the {} rows nor the {} input channels", shape_str(magnitude.shape()), rows, in_channels);
    Tensor v = Tensor::empty({rows, cols});
    float* vp = v.mutable_data<float>();
    const float* d = delta.data<float>();
    for (int64_t i = 0; i < rows * cols; ++i) vp[i] = w[i] + d[i];
    const int64_t groups = per_row ? rows : in_channels;
    std::vector<double> norm(static_cast<size_t>(groups), 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) norm[static_cast<size_t>(per_row ? r : c / kernel)] += double(vp[r * cols + c]) * vp[r * cols + c];
    const float* m = magnitude.data<float>();
    Tensor out = Tensor::empty({rows, cols});
    float* o = out.mutable_data<float>();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t g = per_row ? r : c / kernel;
            o[r * cols + c] = vp[r * cols + c] * (m[g] / static_cast<float>(std::sqrt(norm[static_cast<size_t>(g)]))) - w[r * cols + c];
        }
    return out;
}

// A full / norm module's bias difference: b' = b + m · Δb (webui's ex_bias: the multiplier, no scale).
void add_bias_difference(const Checkpoint& ck, LoraMerge& merge, const std::string& path, const LoraModule& m,
                         const LoraTarget& target, float multiplier) {
    std::string key = target.key;
    const size_t at = key.rfind("weight");
    if (at == std::string::npos) throw Error::at(path, "module '{}': '{}' has no bias to change", m.name, key);
    key.replace(at, 6, "bias");
    if (!ck.has(key) || ck.get(key).ndim() != 1 || ck.get(key).dim(0) < target.row0 + target.rows || m.diff_b.numel() != target.rows)
        throw Error::at(path, "module '{}': its bias difference {} does not fit '{}'", m.name, shape_str(m.diff_b.shape()), key);
    auto [slot, fresh] = merge.weights.try_emplace(key);
    if (fresh) slot->second = ck.get(key).to(DType::F32);
    float* b = slot->second.mutable_data<float>() + target.row0;
    const Tensor d = m.diff_b.to(DType::F32);
    for (int64_t i = 0; i < target.rows; ++i) b[i] += multiplier * d.f32()[static_cast<size_t>(i)];
}

}  // namespace

std::map<std::string, LoraTarget> lora_targets(const Checkpoint& ck, const ModelConfig& cfg) {
    std::map<std::string, LoraTarget> out;
    for (const auto& [key, t] : ck.tensors) {
        if (!key.ends_with(".weight") && !key.ends_with("in_proj_weight")) continue;
        if (key.rfind(cfg.unet_prefix, 0) == 0) {
            const std::string name = unet_diffusers_name(key.substr(cfg.unet_prefix.size()), cfg.unet.num_res_blocks);
            if (name.size() > 7) out[kohya_module_name("lora_unet_", name.substr(0, name.size() - 7))] = {key, 0, t.dim(0), false};
            continue;
        }
        for (size_t i = 0; i < cfg.text_encoders.size(); ++i) {
            const TextConfig& tc = cfg.text_encoders[i];
            if (key.rfind(tc.prefix, 0) != 0) continue;
            const std::string rest = key.substr(tc.prefix.size());
            const auto prefixes = text_prefixes(i, cfg.text_encoders.size());
            if (tc.naming == TextConfig::Naming::OpenClip) {
                add_openclip_targets(out, prefixes, key, rest, tc.width);
            } else if (rest.ends_with(".weight")) {
                const std::string module = "text_model." + rest.substr(0, rest.size() - 7);
                for (const std::string& p : prefixes) out[kohya_module_name(p, module)] = {key, 0, t.dim(0), true};
            }
        }
    }
    for (auto& [name, target] : out)
        if (target.rows == 0) target.rows = ck.get(target.key).dim(0);
    return out;
}

LoraMerge merge_loras(const Checkpoint& ck, const ModelConfig& cfg, const std::vector<WeightedLora>& loras) {
    LoraMerge merge;
    const std::map<std::string, LoraTarget> targets = lora_targets(ck, cfg);
    for (const WeightedLora& use : loras) {
        const LoraFile& file = *use.file;
        const std::string label = std::filesystem::path(file.path).filename().string();
        size_t matched = 0;
        for (const LoraModule& m : file.modules) {
            auto it = targets.find(m.name);
            if (it == targets.end()) {
                merge.unmatched.push_back(label + ": " + m.name);
                continue;
            }
            ++matched;
            const LoraTarget& target = it->second;
            const float multiplier = target.text ? use.te_multiplier : use.unet_multiplier;
            const Tensor& base = ck.get(target.key);
            const int64_t cols = cols_of(base);
            // A LoRA conv module must have the weight's kernel; LyCORIS factors are checked by their product.
            const bool kernel_fits = m.kind != LoraKind::LoRA ||
                                     (m.down.ndim() == 2 ? (base.ndim() == 2 || (base.dim(2) == 1 && base.dim(3) == 1))
                                                         : base.ndim() == 4 && m.down.dim(2) == base.dim(2) && m.down.dim(3) == base.dim(3));
            const bool weight_update = m.kind != LoraKind::Full || m.diff.defined();  // a full module may change the bias only
            Tensor update;
            std::string why;
            try {
                if (kernel_fits && weight_update) update = update_of(m);
            } catch (const Error& e) {
                why = e.what();
            }
            if (weight_update && (!update.defined() || update.dim(0) != target.rows || update.dim(1) != cols))
                throw Error::at(file.path, "module '{}' ({}) does not fit '{}' {}{}: a LoRA for another model family?{}", m.name,
                                update.defined() ? "update " + shape_str(update.shape()) : "its shapes", target.key,
                                shape_str(base.shape()),
                                target.rows != base.dim(0) ? fmt::format(" rows {}..{}", target.row0, target.row0 + target.rows) : "",
                                why.empty() ? "" : " (" + why + ")");
            if (multiplier == 0.0f) continue;
            if (weight_update) {
                auto [slot, fresh] = merge.weights.try_emplace(target.key);
                if (fresh) slot->second = base.to(DType::F32);
                float* w = slot->second.mutable_data<float>() + target.row0 * cols;
                if (m.dora_scale.defined()) {  // on the weight as merged so far, as webui applies networks in turn
                    try {
                        update = dora_update(update, w, base.ndim() == 4 ? base.dim(1) : cols, m.dora_scale);
                    } catch (const Error& e) {
                        throw Error::at(file.path, "module '{}': {}", m.name, e.what());
                    }
                }
                const float* p = update.data<float>();
                const float scale = m.scale();
                // kohya's merge_to order: W + (m · ΔW) · scale
                for (int64_t i = 0; i < target.rows * cols; ++i) w[i] += (multiplier * p[i]) * scale;
            }
            if (m.diff_b.defined()) add_bias_difference(ck, merge, file.path, m, target, multiplier);
            ++merge.applied;
        }
        if (matched == 0)
            throw Error::at(file.path, "none of its {} modules matches a module of this {} model (first: '{}'): a LoRA for another "
                                       "model family?", file.modules.size(), cfg.display_name(), file.modules.front().name);
    }
    return merge;
}

}  // namespace difu
