// pipeline/pipeline_hires.cpp — the hires fix as a stage after a batch's first pass (pipeline/hires.h).
#include "pipeline/hires.h"
#include "pipeline/pipeline.h"

namespace difu {
GenerateRequest DiffusionPipeline::hires_request(const GenerateRequest& r) {
    const HiresFix& h = *r.hires;
    const HiresSize size = hires_size(r.width, r.height, h);
    GenerateRequest second = r;
    second.hires.reset();
    second.initial_noise.reset();
    second.refiner_switch_at.reset();  // the refiner is not run in the hires pass here
    second.width = (size.width / kLatentDownscale - size.trim_x) * kLatentDownscale;
    second.height = (size.height / kLatentDownscale - size.trim_y) * kLatentDownscale;
    second.steps = h.steps > 0 ? h.steps : r.steps;
    second.strength = h.denoising_strength;
    if (!h.sampler.empty()) second.sampler = h.sampler;
    if (h.prompt) second.prompt = *h.prompt;
    if (h.negative_prompt) second.negative_prompt = *h.negative_prompt;
    if (h.cfg_scale) second.cfg_scale = *h.cfg_scale;
    return second;
}

// The first pass's latents [B, 4, h, w] upscaled (latent upscalers) or decoded, resized and encoded
// (picture upscalers), cropped as webui's truncate_x / truncate_y, then sampled again as img2img.
Tensor DiffusionPipeline::hires_pass(const GenerateRequest& r, const GenerateRequest& second, int64_t seed, int batch,
                                     const Tensor& latents, Arena& arena, const ProgressFn& progress, double* build) {
    const HiresFix& h = *r.hires;
    const HiresUpscaler up = parse_hires_upscaler(h.upscaler);
    const HiresSize size = hires_size(r.width, r.height, h);
    const int lh = size.height / kLatentDownscale, lw = size.width / kLatentDownscale;
    Tensor moments;
    if (up.latent) {
        moments = exact_moments(upscale_latent(latents, lh, lw, up.mode));  // the start is the upscaled latent itself
    } else {  // webui: the decoded pictures resized with Lanczos ("None" and "Lanczos"), encoded again
        const std::vector<Image> small = second.decode == VaeMethod::Taesd ? decode_taesd(latents)
                                                                            : decode_batch(vae_model(build), latents, arena);
        GenerateRequest each = second;
        each.batch_size = 1;
        std::vector<Tensor> parts;
        for (const Image& img : small) {
            each.init_image = resize_image(img, size.width, size.height);
            each.width = size.width;
            each.height = size.height;
            parts.push_back(encode_init_image(vae_model(build), each, arena));
        }
        moments = Tensor::empty({static_cast<int64_t>(parts.size()), parts[0].dim(1), parts[0].dim(2), parts[0].dim(3)});
        for (size_t i = 0; i < parts.size(); ++i)
            std::copy(parts[i].f32().begin(), parts[i].f32().end(), moments.f32_mut().begin() + static_cast<int64_t>(i) * parts[i].numel());
    }
    if (size.trim_x > 0 || size.trim_y > 0) {  // webui's crop to the resize target's aspect (mean and logvar alike)
        const int64_t y0 = size.trim_y / 2, x0 = size.trim_x / 2;
        moments = moments.slice(2, y0, lh - (size.trim_y + 1) / 2).slice(3, x0, lw - (size.trim_x + 1) / 2).contiguous();
    }
    const ModelInputs inputs = model_inputs(second, arena, build);
    return sample_batch(second, seed, batch, second.batch_count, &moments, inputs, nullptr, arena, progress, build);
}

}  // namespace difu
