// io/external_vae.h — a VAE file users pick beside a checkpoint (webui's --vae-path / sd_vae: e.g.
// vae-ft-mse-840000-ema-pruned, sdxl_vae), laid over the checkpoint's own first_stage_model.* tensors.
// The file holds the VAE under "first_stage_model." or bare (encoder.*, decoder.*, quant_conv.*,
// post_quant_conv.*); other tensors (a training loss, EMA copies) are ignored. The scale factor stays
// the model family's, as webui keeps it.
#pragma once
#include <string>

#include "io/checkpoint.h"
#include "io/model_config.h"

namespace difu {

// `model` with every VAE tensor taken from the file at `vae_path` (views into it). Throws Error naming
// the file and the first tensor that is missing or has another shape (a VAE for another architecture).
Checkpoint with_external_vae(const Checkpoint& model, const ModelConfig& cfg, const std::string& vae_path);

}  // namespace difu
