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
#include <string>
#include <vector>

#include "core/tensor.h"

namespace difu {

struct LoraModule {
    std::string name;  // canonical kohya form, e.g. "lora_unet_down_blocks_0_attentions_0_proj_in"
    Tensor down, up;   // as stored (any float dtype)
    float alpha = 0;   // scale = alpha / rank
    int64_t rank() const { return down.dim(0); }
    float scale() const { return alpha / static_cast<float>(rank()); }
};

struct LoraFile {
    std::string path;
    std::string format;  // "kohya", "peft"
    std::vector<LoraModule> modules;
};

// Throws Error naming the file for a file that is no LoRA (a model, an embedding), unpaired or
// mis-shaped down / up tensors, or a LyCORIS type difu does not apply yet (naming it).
LoraFile read_lora(const std::string& path);

}  // namespace difu
