// cli/pipeline_options.h — the pipeline settings `generate` and `serve` share: tiled VAE decoding /
// encoding, the TAESD files, the invisible watermark.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "pipeline/pipeline.h"

namespace difu {
class SafetyChecker;
}

namespace difu::cli {

struct PipelineOptions {
    std::string tiling = "auto";
    int tile_size = 512, tile_overlap = 128;  // image pixels
    int64_t memory_mb = kDefaultVaeMemoryBudgetMiB;
    std::string taesd, taesd_encoder;  // TAESD decoder / encoder files
    std::string watermark;             // dwtDct payload: sd1, sdxl, hex:..., text; "" = none
    std::string safety_checker, nsfw_action = "black";

    void add_to(CLI::App* cmd);
    VaeTilingPolicy tiling_policy() const;  // throws Error naming the flag
    void check() const;                     // every flag's value, before the (slow) model load
    // The tiling, the TAESD files, the safety checker and the watermark to `pipe` and its refiner. The
    // checker is loaded once and shared by every pipeline these options (and their copies) go to.
    void apply(DiffusionPipeline& pipe) const;

private:
    mutable std::shared_ptr<const SafetyChecker> checker_;
};

}  // namespace difu::cli
