#include "server/generation.h"

#include "io/image.h"
#include "sampling/denoiser.h"
#include "server/base64.h"

namespace difu::server {

GenerationOutcome run_generation(DiffusionPipeline& pipe, GenerateRequest r, JobContext& ctx, int preview_every) {
    GenerationOutcome out;
    if (r.seed == kRandomSeed) r.seed = random_seed();
    out.seed = r.seed;
    out.job_timestamp = ctx.job_timestamp();
    const int batches = r.batch_count;
    for (int b = 0; b < batches; ++b) {
        GenerateRequest one = r;
        one.batch_count = 1;
        one.seed = r.seed + static_cast<int64_t>(b) * r.batch_size;
        ctx.begin_batch(b, batches);
        int steps_done = 0;
        const ProgressFn progress = [&](const ProgressInfo& p) {
            if (p.phase == "sampling") steps_done = p.step;
            if (p.denoised && preview_every > 0 && p.step % preview_every == 0)
                ctx.set_preview(base64_encode(encode_png(pipe.preview(*p.denoised), {})));
            return ctx.report(p);
        };
        try {
            GenerateResult res = pipe.generate(one, progress);
            for (GeneratedImage& g : res.images) out.images.push_back(std::move(g));
            out.times.text += res.times.text;
            out.times.sampling += res.times.sampling;
            out.times.decode += res.times.decode;
        } catch (const Cancelled&) {
            if (ctx.interrupted()) {
                out.interrupted = true;
                out.sampling_steps += steps_done;
                break;
            }
            ctx.take_skip();
            ++out.skipped_batches;
        }
        out.sampling_steps += steps_done;
    }
    return out;
}

}  // namespace difu::server
