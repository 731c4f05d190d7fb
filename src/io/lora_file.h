// io/lora_file.h — LoRA networks as users bring them, read into one form: for each adapted module of
// the model, the low-rank pair (down [r, in(, kh, kw)], up [out, r(, 1, 1)]) and its scale alpha / r.
//   kohya / webui:  lora_unet_<module>.lora_down.weight / .lora_up.weight / .alpha, lora_te_ (SD 1.x,
//                   SD 2.x), lora_te1_ / lora_te2_ (SDXL); <module> is the diffusers / transformers module
//                   path with '.' -> '_'.
//   PEFT / diffusers: unet.<module>.lora_A.weight (= down) / .lora_B.weight (= up), text_encoder(_2).…, and
//                   the older .lora.down / .lora.up; alpha in the safetensors metadata
//                   'lora_adapter_metadata' (JSON: "<component>.lora_alpha", "<component>.r"), else alpha = r.
// Names are canonicalised to the kohya form (lora_unet_…, lora_te1_… for PEFT's text_encoder, lora_te2_…),
// which io/lora_merge.h looks up among the model's own modules.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace difu {

// How a module builds its weight update ΔW (then W' = W + m · ΔW · scale):
//   LoRA (and LoCon's conv kernels):  ΔW = up · down
//   LyCORIS LoHa:                     ΔW = (w1a · w1b) ⊙ (w2a · w2b)
//   LyCORIS LoKr:                     ΔW = w1 ⊗ w2 (Kronecker), each factor stored whole or as a · b
//   LyCORIS full / norm:              ΔW = diff (a whole weight difference; w_norm for norm layers),
//                                     with a bias difference diff_b / b_norm added as m · Δb
enum class LoraKind { LoRA, LoHa, LoKr, Full };
const char* lora_kind_name(LoraKind k);  // "LoRA", "LoHa", "LoKr", "full"

struct LoraModule {
    std::string name;  // canonical kohya form, e.g. "lora_unet_down_blocks_0_attentions_0_proj_in"
    LoraKind kind = LoraKind::LoRA;
    Tensor down{}, up{};            // LoRA, as stored (any float dtype)
    Tensor w1a{}, w1b{}, w2a{}, w2b{};  // LoHa's four; LoKr's decomposed factors
    Tensor w1{}, w2{};              // LoKr's whole factors
    Tensor diff{}, diff_b{};        // Full: the weight's and the bias's differences (either may be absent)
    std::optional<float> alpha{};   // none: scale 1
    // DoRA (weight-decomposed LoRA): the magnitudes the updated weight's columns (kohya: [1, in(, 1, 1)])
    // or rows (LyCORIS / PEFT: [out, 1(, 1, 1)]) are rescaled to; see io/lora_merge.h.
    Tensor dora_scale{};
    // The rank alpha is divided by (webui's NetworkModule.dim): LoRA down's rows, LoHa w1b's, LoKr w2b's
    // else w1b's; 0 when a LoKr has no decomposed factor.
    int64_t rank() const;
    float scale() const { return alpha && rank() > 0 ? *alpha / static_cast<float>(rank()) : 1.0f; }
};

struct LoraFile {
    std::string path;
    std::string format;  // "kohya", "peft"
    std::vector<LoraModule> modules;
};

// A module's kohya name: `prefix` + its module path with '.' -> '_' (sd-scripts' lora_name.replace('.', '_')),
// e.g. ("lora_unet_", "down_blocks.0.attentions.0.proj_in") -> "lora_unet_down_blocks_0_attentions_0_proj_in".
std::string kohya_module_name(const std::string& prefix, std::string module_path);

// Throws Error naming the file for a file that is no LoRA (a model, an embedding), incomplete or
// mis-shaped modules, or a LyCORIS variant difu does not apply yet (Tucker, IA3; named).
LoraFile read_lora(const std::string& path);

}  // namespace difu
