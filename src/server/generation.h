// server/generation.h — one API request's generation on the worker thread: its batches (webui's
// n_iter) run one pipeline call each, so that /skip ends one batch and /interrupt keeps the batches
// already made, as in webui.
#pragma once
#include <vector>

#include "pipeline/pipeline.h"
#include "server/job_queue.h"
#include "server/webui_request.h"

namespace difu::server {


struct GenerationOutcome {
    std::vector<GeneratedImage> images;
    int64_t seed = 0;          // the first batch's seed (resolved when the request said -1)
    PhaseTimes times;          // summed over the batches that finished
    int sampling_steps = 0;    // steps sampled, all batches (for steps/s)
    bool interrupted = false;
    int skipped_batches = 0;
    std::string job_timestamp;  // webui's %Y%m%d%H%M%S of the job's start
};

// Batch b gets seed + b * batch_size, the seed DiffusionPipeline::generate gives it, so a request
// answers with the same pictures as one generate() call with batch_count batches.
// With preview.every > 0: a live preview every that many steps (webui's show_progress_every_n_steps),
// kept for /sdapi/v1/progress.
GenerationOutcome run_generation(DiffusionPipeline& pipe, GenerateRequest r, JobContext& ctx, const LivePreview& preview = {});

}  // namespace difu::server
