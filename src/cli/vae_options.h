// cli/vae_options.h — the VAE flags `generate` and `serve` share: tiled decoding / encoding and the
// TAESD files.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "pipeline/pipeline.h"

namespace difu::cli {

struct VaeOptions {
    std::string tiling = "auto";
    int tile_size = 512, tile_overlap = 128;  // image pixels
    int64_t memory_mb = kDefaultVaeMemoryBudgetMiB;
    std::string taesd, taesd_encoder;  // TAESD decoder / encoder files

    void add_to(CLI::App* cmd);
    VaeTilingPolicy tiling_policy() const;  // throws Error naming the flag
    // The tiling and the TAESD files to `pipe` and its refiner.
    void apply(DiffusionPipeline& pipe) const;
};

}  // namespace difu::cli
