// io/embedding_file.h — textual-inversion embeddings as webui / diffusers users have them:
//   webui .pt          {"string_to_param": {"*": [n, width]}, "name", "step", ...} (the safe unpickler)
//   .safetensors       "emb_params" [n, width]; SDXL "clip_l" [n, 768] and "clip_g" [n, 1280]
//   diffusers .bin     {"<token>": [width]} (one vector) or [n, width]
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace difu {

struct EmbeddingFile {
    std::string path;
    std::string name;  // the file name without extension: the word a prompt uses
    // The vectors per text encoder: one unnamed part (SD 1.x / 2.x), or "clip_l" and "clip_g" (SDXL).
    struct Part {
        std::string encoder;  // "" (any single encoder), "clip_l", "clip_g"
        Tensor vectors;       // [n, width], as stored
    };
    std::vector<Part> parts;
    int vectors() const { return parts.empty() ? 0 : static_cast<int>(parts.front().vectors.dim(0)); }
};

// Throws Error naming the file when it holds no embedding (a model, a LoRA) or a malformed one.
EmbeddingFile read_embedding(const std::string& path);

}  // namespace difu
