// pipeline/pipeline_latents.cpp — DiffusionPipeline's way in and out of latent space: the init image
// encoded (VAE posterior, or TAESD), img2img's start latent, UniPC's timestep run, and latents decoded
// to pictures (VAE, or TAESD).
#include <algorithm>
#include <cmath>
#include <limits>

#include "io/model_family.h"
#include "models/taesd/taesd.h"
#include "pipeline/hires.h"
#include "pipeline/noise.h"
#include "pipeline/pipeline.h"
#include "sampling/ddim.h"
#include "sampling/tensor_math.h"
#include "sampling/uni_pc.h"

namespace difu {
namespace {

// [B, 3, H, W] decoder output to pictures: clamp((x + 1) / 2, 0, 1) for the VAE's [-1, 1], clamp(x, 0, 1)
// for TAESD's [0, 1].
std::vector<Image> images_of(const Tensor& x, bool signed_range) {
    std::vector<Image> out;
    const int64_t c = x.dim(1), h = x.dim(2), w = x.dim(3), per = c * h * w;
    for (int64_t b = 0; b < x.dim(0); ++b) {
        std::vector<float> v(static_cast<size_t>(per));
        for (int64_t i = 0; i < per; ++i) {
            const float raw = x.f32()[b * per + i];
            v[i] = std::clamp(signed_range ? (raw + 1.0f) / 2.0f : raw, 0.0f, 1.0f);
        }
        out.push_back(from_float_chw(v.data(), static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)));
    }
    return out;
}

}  // namespace

// webui's UniPC (sd_samplers_timesteps): the DDIM timesteps decide the step count (len(range(0, T, T //
// steps))); img2img noises the start with alphas_cumprod at timesteps[t_enc] and starts UniPC at
// timesteps[t_enc - 1] / T + 1 / T (webui's own "likely off by a bit" choice, kept for its images).
Tensor DiffusionPipeline::sample_unipc_run(const GenerateRequest& r, const SamplerChoice& sc, const Tensor& noise,
                                           const Tensor* start, const EpsModel& eps, const StepCallback& cb) const {
    const DdimSchedule ds = make_ddim_schedule(*schedule_, r.steps, 0.0f);
    const int T = schedule_->timesteps();
    UniPcOptions options;
    options.variant = sc.kind == SamplerKind::UniPcBh2 ? UniPcVariant::Bh2 : UniPcVariant::Bh1;
    if (!start) return sample_unipc(eps, schedule_->alphas_cumprod(), static_cast<int>(ds.timesteps.size()), noise, 1.0, options, cb);
    constexpr float kMaxStrength = 0.999f;  // webui's setup_img2img_steps
    const int t_enc = static_cast<int>(std::min(r.strength, kMaxStrength) * static_cast<float>(ds.timesteps.size()));
    if (t_enc == 0) return *start;
    const Tensor x = ddim_stochastic_encode(ds, *start, t_enc, noise);
    const double t_start = (ds.timesteps[static_cast<size_t>(t_enc - 1)] + 1.0) / T;
    return sample_unipc(eps, schedule_->alphas_cumprod(), t_enc, x, t_start, options, cb);
}

// init_latent = scale_factor * (mean + exp(logvar / 2) z) for every image of the batch, with z drawn
// from the batch's generator after the initial noise (scripts/img2img.py samples the posterior too).
Tensor DiffusionPipeline::img2img_start_latent(const Tensor& posterior_moments, BatchNoise& draws) const {
    const int64_t b = posterior_moments.dim(0), e = cfg_.vae.embed_dim;
    Tensor mean = posterior_moments.slice(1, 0, e).contiguous(), logvar = posterior_moments.slice(1, e, 2 * e).contiguous();
    Tensor z = draws.posterior(mean.shape());
    Tensor out = Tensor::empty(mean.shape());
    for (int64_t i = 0; i < out.numel(); ++i)
        out.f32_mut()[i] = cfg_.vae.scale_factor * (mean.f32()[i] + std::exp(0.5f * logvar.f32()[i]) * z.f32()[i]);
    (void)b;
    return out;
}

// The init image at the requested size, [B, 3, H, W] in [-1, 1].
// (fit_init_images made them so; latent upscale keeps their own size, the latent is resized after encoding.)
Tensor DiffusionPipeline::init_image_tensor(const GenerateRequest& r) const {
    const int h = r.init_image->height, w = r.init_image->width;
    Tensor x = Tensor::empty({r.batch_size, 3, h, w});
    for (int b = 0; b < r.batch_size; ++b) {
        const Image& img = init_image_at(r, b);
        if (img.channels != 3 || img.width != w || img.height != h)
            throw Error::make("init image {} is {}x{}x{}, the batch's first {}x{}x3", b, img.width, img.height, img.channels, w, h);
        const std::vector<float> chw = to_float_chw(img);
        std::copy(chw.begin(), chw.end(), x.f32_mut().begin() + b * static_cast<int64_t>(chw.size()));
    }
    return x;
}

// webui's "Just resize (latent upscale)": the init latent resized to the request's (bilinear, as
// torch's interpolate); here the VAE's moments (or TAESD's latent) are resized, the posterior sampled after.
Tensor DiffusionPipeline::fit_init_latent(const Tensor& x, const GenerateRequest& r) const {
    const int lh = r.height / kLatentDownscale, lw = r.width / kLatentDownscale;
    if (x.dim(2) == lh && x.dim(3) == lw) return x;
    return upscale_latent(x, lh, lw, LatentUpscale::Bilinear);
}

// TAESD's encoding (it takes [0, 1]) as a posterior of zero variance.
Tensor DiffusionPipeline::taesd_init_moments(const GenerateRequest& r) const {
    Tensor x = init_image_tensor(r);
    for (float& v : x.f32_mut()) v = (v + 1.0f) / 2.0f;
    return exact_moments(fit_init_latent(taesd_encoder_->forward(x), r));
}

Tensor DiffusionPipeline::exact_moments(const Tensor& latent) const {
    Tensor moments = Tensor::empty({latent.dim(0), 2 * latent.dim(1), latent.dim(2), latent.dim(3)});
    const int64_t per = latent.numel() / latent.dim(0);
    for (int64_t b = 0; b < latent.dim(0); ++b)
        for (int64_t i = 0; i < per; ++i) {
            moments.f32_mut()[b * 2 * per + i] = latent.f32()[b * per + i] / cfg_.vae.scale_factor;
            moments.f32_mut()[b * 2 * per + per + i] = -std::numeric_limits<float>::infinity();
        }
    return moments;
}

// The init image at the requested size as VAE posterior moments [B, 2 embed_dim, h, w] (mean, logvar).
Tensor DiffusionPipeline::encode_init_image(const AutoencoderKL& vae, const GenerateRequest& r, Arena& arena) const {
    const Tensor x = init_image_tensor(r);
    if (!r.more_init_images.empty()) return fit_init_latent(vae_encode(vae, x, vae_tiling_, arena).moments(), r);
    const Tensor one = vae_encode(vae, x.slice(0, 0, 1).contiguous(), vae_tiling_, arena).moments();  // the same picture B times
    Tensor moments = Tensor::empty({r.batch_size, one.dim(1), one.dim(2), one.dim(3)});
    for (int b = 0; b < r.batch_size; ++b) std::copy(one.f32().begin(), one.f32().end(), moments.f32_mut().begin() + b * one.numel());
    return fit_init_latent(moments, r);
}

std::vector<Image> DiffusionPipeline::decode_batch(const AutoencoderKL& vae, const Tensor& latents, Arena& arena) const {
    // decode_first_stage: z = latent * (1 / scale_factor); image = clamp((x + 1) / 2, 0, 1)
    return images_of(vae_decode(vae, scaled(latents, 1.0f / cfg_.vae.scale_factor), vae_tiling_, arena), true);
}

Image DiffusionPipeline::preview(const Tensor& denoised, int64_t index) const {
    const Tensor one = denoised.slice(0, index, index + 1).contiguous();
    if (taesd_decoder_) return decode_taesd(one).front();
    const auto rgb = describe(cfg_.family).preview_rgb;
    const int64_t c = one.dim(1), hw = one.dim(2) * one.dim(3);
    if (rgb.size() != static_cast<size_t>(c)) throw Error::make("no live-preview factors for {} latent channels", c);
    std::vector<float> chw(static_cast<size_t>(3 * hw));
    for (int64_t i = 0; i < hw; ++i)
        for (int k = 0; k < 3; ++k) {
            float v = 0.0f;
            for (int64_t l = 0; l < c; ++l) v += one.f32()[l * hw + i] * rgb[static_cast<size_t>(l)][static_cast<size_t>(k)];
            chw[static_cast<size_t>(k * hw + i)] = std::clamp((v + 1.0f) / 2.0f, 0.0f, 1.0f);
        }
    return from_float_chw(chw.data(), 3, static_cast<int>(one.dim(2)), static_cast<int>(one.dim(3)));
}

std::vector<Image> DiffusionPipeline::decode_taesd(const Tensor& latents) const {
    return images_of(taesd_decoder_->forward(latents), false);  // TAESD: the UNet's latents, pictures in [0, 1]
}

}  // namespace difu
