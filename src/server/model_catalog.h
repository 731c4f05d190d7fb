// server/model_catalog.h — the checkpoints a server can switch between, as webui's clients see them
// (GET /sdapi/v1/sd-models, options / override_settings "sd_model_checkpoint", refresh-checkpoints):
// the --model one, always loaded, and with --models-dir every checkpoint below that folder (.safetensors,
// .ckpt, diffusers folders with a model_index.json), loaded when a request first asks for it. Loaded
// extra models stay in memory, least recently used first out, while their estimated size (the weight
// files' bytes on disk) fits the memory budget.
#pragma once
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "server/model_info.h"

namespace difu::server {

struct CatalogConfig {
    std::string models_dir;           // "" = only the --model checkpoint
    uint64_t memory_budget_bytes = 0;  // extra models kept loaded within this (the last one used always is)
    Precision precision = Precision::FP32;
    // Called on each newly loaded model before its first use (embeddings for its encoders, ...).
    std::function<void(DiffusionPipeline&)> prepare;
};

class ModelCatalog {
public:
    // `first` is the --model pipeline (not owned; described, i.e. hashed, here).
    ModelCatalog(DiffusionPipeline& first, CatalogConfig config);

    // webui's list: the --model checkpoint first, then the folder's in path order. A checkpoint not yet
    // loaded has no hash yet (webui computes it on load too) and its title is its relative path.
    std::vector<ModelInfo> list() const;
    // The entry a client's name designates (webui's forms: title, relative path with or without the
    // hash, file name, name without extension, short or full hash); nullopt if none.
    std::optional<ModelInfo> find(const std::string& name) const;
    const ModelInfo& first() const { return first_info_; }
    // Rescans the folder (webui's refresh-checkpoints); loaded models stay loaded.
    void refresh();

    // The pipeline for an entry (by its filename), loading it and releasing the least recently used
    // extra models beyond the budget. Throws Error naming the file when it does not load. Also returns
    // the entry's description, complete with its hash once loaded.
    std::pair<std::shared_ptr<DiffusionPipeline>, ModelInfo> acquire(const std::string& filename);
    std::vector<std::string> loaded() const;  // filenames of the loaded extra models, most recent first

private:
    struct Entry {
        ModelInfo info;
        uint64_t bytes = 0;  // weight files on disk: the memory estimate
    };
    std::vector<Entry> scan() const;
    Entry* entry_of(const std::string& filename);  // under mutex_

    DiffusionPipeline& first_;
    const ModelInfo first_info_;
    const CatalogConfig config_;
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;  // the folder's
    std::list<std::pair<std::string, std::shared_ptr<DiffusionPipeline>>> loaded_;  // most recent first
};

}  // namespace difu::server
