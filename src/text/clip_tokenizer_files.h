// text/clip_tokenizer_files.h — the CLIP vocabulary as transformers' CLIPTokenizer folder (a diffusers
// pipeline's tokenizer/, tokenizer_2/): vocab.json (token -> id), merges.txt ("#version: 0.2", then
// the 48894 merges), tokenizer_config.json and special_tokens_map.json.
#pragma once
#include <string>

namespace difu {

// Writes the four files into `dir` (created). `pad_token` is the id the model pads with: 49407
// "<|endoftext|>" (SD 1.x, SDXL's CLIP-L) or 0 "!" (the OpenCLIP towers of SD 2.x and SDXL).
void write_clip_tokenizer_folder(const std::string& dir, int pad_token);

}  // namespace difu
