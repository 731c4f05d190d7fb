// io/diffusers_folder.h — diffusers pipeline folders read as single-file checkpoints (LDM names):
// StableDiffusion{,Img2Img,Inpaint}Pipeline (SD 1.x / 2.x) and StableDiffusionXL{,Img2Img,Inpaint}Pipeline
// (SDXL base, refiner); other pipeline classes are named and refused.
#pragma once
#include <string>

#include "io/checkpoint.h"
#include "io/model_config.h"

namespace difu {

bool is_diffusers_folder(const std::string& path);  // a directory with model_index.json
// Every tensor of unet/, vae/ and text_encoder/ under its single-file name; views into the mapped
// component files (each tensor keeps its file's mapping alive).
Checkpoint load_diffusers_folder(const std::string& path);
// What a folder's configs say beyond its tensors, over `cfg` as the tensors gave it: the scheduler's
// prediction_type (eps / v, as a sidecar yaml would), and that an SD 2.x text encoder is stored cut at
// the penultimate layer (diffusers' convert_open_clip_checkpoint drops resblocks.23; its last layer is
// the original's penultimate). Throws Error naming the file on a malformed config.
void apply_diffusers_config(const std::string& folder, ModelConfig& cfg);
// The file whose SHA-256 names the model (webui's "Model hash"): the checkpoint itself, or a folder's
// UNet weights.
std::string hashed_file(const std::string& path);

}  // namespace difu
