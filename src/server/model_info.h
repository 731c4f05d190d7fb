// server/model_info.h — the loaded checkpoint as webui's /sdapi/v1/sd-models and infotexts name it.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "pipeline/pipeline.h"

namespace difu::server {

struct ModelInfo {
    std::string title;       // "model.safetensors [2b80e894a9]", webui's CheckpointInfo.title
    std::string model_name;  // file name without extension
    std::string hash;        // first 10 hex digits of the file's SHA-256 (webui's shorthash)
    std::string sha256;      // all 64
    std::string filename;    // absolute path
    std::string vae_name{}, vae_hash{};  // the external VAE (serve --vae): file name and short hash; "" = the model's
};

// Hashes the file (once, at start-up, so no request waits for it) and fills the pipeline's own
// hash cache on the calling thread, before any worker thread uses the pipeline.
ModelInfo describe_model(DiffusionPipeline& pipe);

// Whether `name` designates this model the ways webui accepts for sd_model_checkpoint: its title,
// file name, name without extension, short or full hash.
bool names_model(const ModelInfo& m, const std::string& name);

// The checkpoint a client's name designates (ModelCatalog::find), or nullopt: what request parsing
// and the options store need of the server's checkpoints.
using CheckpointResolver = std::function<std::optional<ModelInfo>(const std::string& name)>;
// The file of a VAE a client names for sd_vae (difu serve --vae-dir), or nullopt.
using VaeResolver = std::function<std::optional<std::string>(const std::string& name)>;
struct Resolvers {
    Resolvers(CheckpointResolver c, VaeResolver v = {}) : checkpoint(std::move(c)), vae(std::move(v)) {}
    CheckpointResolver checkpoint;
    VaeResolver vae;  // empty: no VAE folder
};

// webui's sd_vae values besides a file name: "Automatic" (the server's choice for the checkpoint) and
// "None" (the checkpoint's own VAE).
inline constexpr const char* kVaeAutomatic = "Automatic";
inline constexpr const char* kVaeNone = "None";

}  // namespace difu::server
