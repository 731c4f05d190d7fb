#include "server/generation.h"

#include "io/image.h"
#include "sampling/denoiser.h"
#include "server/base64.h"

namespace difu::server {

namespace {

Image preview_picture(const DiffusionPipeline& pipe, const Tensor& denoised, bool combined) {
    if (!combined || denoised.dim(0) == 1) return pipe.preview(denoised, 0);
    std::vector<Image> parts;  // webui's image_grid of the batch: one row here
    for (int64_t i = 0; i < denoised.dim(0); ++i) parts.push_back(pipe.preview(denoised, i));
    Image grid{parts[0].width * static_cast<int>(parts.size()), parts[0].height, 3, {}};
    grid.pixels.resize(grid.stride() * grid.height);
    for (size_t k = 0; k < parts.size(); ++k)
        for (int y = 0; y < grid.height; ++y)
            std::copy_n(parts[k].at(0, y), parts[k].stride(), grid.pixels.begin() + static_cast<ptrdiff_t>(y * grid.stride() + k * parts[k].stride()));
    return grid;
}

std::vector<uint8_t> encode_preview(const Image& img, const std::string& format) {
    if (format == "jpeg") return encode_jpeg(img);
    if (format == "webp") return encode_webp(img);
    return encode_png(img, {});
}

}  // namespace

GenerationOutcome run_generation(DiffusionPipeline& pipe, GenerateRequest r, JobContext& ctx, const LivePreview& preview) {
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
            if (p.denoised && preview.every > 0 && p.step % preview.every == 0)
                ctx.set_preview(base64_encode(encode_preview(preview_picture(pipe, *p.denoised, preview.combined), preview.format)));
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
