// io/lora_merge.h — LoRA networks merged into a model's weights, as kohya's LoRAInfModule.merge_to and
// webui do, in fp32 before any conversion of the model:
//   W' = W + (m · ΔW) · (alpha / r)     ΔW = up · down (LoRA, LoCon), (w1a · w1b) ⊙ (w2a · w2b) (LoHa),
//                                        w1 ⊗ w2 (LoKr), diff / w_norm (full, norm); conv kernels through
//                                        [out, in·kh·kw] reshapes;  b' = b + m · Δb (full / norm bias differences)
//   DoRA modules: W' = W + m · scale · (V · mag / ||V|| - W), V = W + ΔW (webui's apply_weight_decompose)
// m is the network's text-encoder or UNet multiplier (webui's <lora:name:te:unet>). The model's modules are
// named from its own keys: UNet weights by diffusers' names (io/checkpoint_convert.h), text encoders by
// transformers' CLIPTextModel names, the OpenCLIP towers' q / k / v being row thirds of their in_proj.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/lora_file.h"
#include "io/model_config.h"

namespace difu {

// Where a LoRA module lands: rows [row0, row0 + rows) of the checkpoint tensor `key`.
struct LoraTarget {
    std::string key;
    int64_t row0 = 0, rows = 0;
    bool text = false;  // a text-encoder weight (the te multiplier applies), else the UNet's
};
// Every module of the model under its kohya name (lora_unet_…, lora_te_… / lora_te1_… / lora_te2_…).
std::map<std::string, LoraTarget> lora_targets(const Checkpoint& ck, const ModelConfig& cfg);

struct WeightedLora {
    const LoraFile* file;
    float te_multiplier = 1.0f, unet_multiplier = 1.0f;
};

struct LoraMerge {
    std::map<std::string, Tensor> weights;  // checkpoint key -> merged weight, F32
    std::vector<std::string> unmatched;     // "file: module" naming no module of this model (webui skips them)
    size_t applied = 0;                     // modules merged
};

// Throws Error naming the file and module when a module's shapes do not fit its target (a LoRA made for
// another family), or when not one of a file's modules matches the model.
LoraMerge merge_loras(const Checkpoint& ck, const ModelConfig& cfg, const std::vector<WeightedLora>& loras);

}  // namespace difu
