// pipeline/textual_inversion.h — a folder of textual-inversion embeddings, as webui's EmbeddingDatabase
// loads it for the model in use: each file whose vectors fit the model's text encoders is usable by its
// name in any prompt (an unnamed [n, width] part fits a one-encoder model of that width; SDXL files give
// clip_l to CLIP-L and clip_g to OpenCLIP bigG, and fit only a model that uses both); the others are
// listed as skipped. Prompts see an immutable snapshot, so a refresh never changes a running job.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_chunks.h"

namespace difu {

struct EmbeddingSet {
    struct Loaded {
        std::string name, path;
        int vectors = 0;
        std::vector<Tensor> per_encoder;  // [vectors, width of encoder i], F32
    };
    struct Skipped {
        std::string name, path, reason;
        int vectors = 0;
        int64_t width = 0;
    };
    std::vector<Loaded> loaded;  // index = EmbeddingVocabulary index
    std::vector<Skipped> skipped;
    EmbeddingVocabulary vocabulary;
};

class EmbeddingLibrary {
public:
    // Reads every .pt / .safetensors / .bin under `dir` (recursively) for a model with `cfg`'s encoders.
    EmbeddingLibrary(std::string dir, const ModelConfig& cfg);
    void refresh();
    std::shared_ptr<const EmbeddingSet> snapshot() const;
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    struct Encoder {
        int64_t width;
        const char* sdxl_part;  // "clip_l" (HF-named CLIP-L) or "clip_g" (OpenCLIP)
    };
    std::vector<Encoder> encoders_;
    mutable std::mutex mutex_;
    std::shared_ptr<const EmbeddingSet> set_;
};

}  // namespace difu
