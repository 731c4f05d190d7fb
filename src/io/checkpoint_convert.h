// io/checkpoint_convert.h — writing a loaded checkpoint back out (`difu convert`): as one .safetensors
// file under its single-file (LDM) names, or as a diffusers pipeline folder (the names and configs of
// diffusers' own converters, single_file_utils.py), optionally with its floating tensors cast to
// f32 / f16 / bf16. Tensors are converted and written one at a time (peak memory: the largest tensor).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/checkpoint.h"
#include "io/model_config.h"

namespace difu {

// Every tensor of `ck` (integer ones unchanged; floats cast to `dtype` when given), with its metadata.
void write_single_file(const Checkpoint& ck, const std::string& path, std::optional<DType> dtype);

// A tokenizer folder model_index.json names, for the caller to write (text/clip_tokenizer_files.h).
struct TokenizerFolder {
    std::string folder;  // "tokenizer", "tokenizer_2"
    int pad_token;       // the text encoder's pad token id
};

// The model's UNet, VAE and text encoders as a diffusers folder `dir` (created; must not hold a
// model_index.json yet): model_index.json, unet/, vae/, text_encoder/ (text_encoder_2/), scheduler/.
// Training-only tensors (EMA copies, schedule buffers, logit_scale) are left out, as diffusers does.
// cfg.schedule.prediction goes to scheduler_config.json. Returns the tokenizer folders the index names.
std::vector<TokenizerFolder> write_diffusers_folder(const Checkpoint& ck, const ModelConfig& cfg, const std::string& dir,
                                                    std::optional<DType> dtype);

// The LDM tensor `ldm_name` (relative to the UNet prefix) under diffusers' UNet2DConditionModel name;
// "" when it has none. `layers_per_block` = num_res_blocks. Exposed for tests.
std::string unet_diffusers_name(const std::string& ldm_name, int layers_per_block);

}  // namespace difu
