// io/diffusers_folder.h — diffusers pipeline folders read as single-file checkpoints (LDM names).
// SD 1.x (StableDiffusionPipeline) for now; other pipeline classes are named and refused.
#pragma once
#include <string>

#include "io/checkpoint.h"

namespace difu {

bool is_diffusers_folder(const std::string& path);  // a directory with model_index.json
// Every tensor of unet/, vae/ and text_encoder/ under its single-file name; views into the mapped
// component files (each tensor keeps its file's mapping alive).
Checkpoint load_diffusers_folder(const std::string& path);
// The file whose SHA-256 names the model (webui's "Model hash"): the checkpoint itself, or a folder's
// UNet weights.
std::string hashed_file(const std::string& path);

}  // namespace difu
