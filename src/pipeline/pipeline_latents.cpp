// pipeline/pipeline_latents.cpp — DiffusionPipeline's way in and out of latent space: the init image
// encoded (VAE posterior, or TAESD), img2img's start latent, UniPC's timestep run, and latents decoded
// to pictures (VAE, or TAESD).
#include <algorithm>
#include <cmath>
#include <limits>

#include "io/model_family.h"
#include "models/taesd/taesd.h"
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
Tensor DiffusionPipeline::init_image_tensor(const GenerateRequest& r) const {
    Image img = *r.init_image;
    if (img.channels == 4) img = flatten_alpha(img);
    if (img.width != r.width || img.height != r.height) img = resize_image(img, r.width, r.height);  // webui "Just resize"
    std::vector<float> chw = to_float_chw(img);
    Tensor x = Tensor::empty({r.batch_size, 3, r.height, r.width});
    for (int b = 0; b < r.batch_size; ++b) std::copy(chw.begin(), chw.end(), x.f32_mut().begin() + b * static_cast<int64_t>(chw.size()));
    return x;
}

// TAESD's encoding (it takes [0, 1]) as a posterior of zero variance.
Tensor DiffusionPipeline::taesd_init_moments(const GenerateRequest& r) const {
    Tensor x = init_image_tensor(r);
    for (float& v : x.f32_mut()) v = (v + 1.0f) / 2.0f;
    return exact_moments(taesd_encoder_->forward(x));
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
    Posterior p = vae.encode(init_image_tensor(r), arena);
    const int64_t e = cfg_.vae.embed_dim, hw = p.mean.dim(2) * p.mean.dim(3);
    Tensor moments = Tensor::empty({r.batch_size, 2 * e, p.mean.dim(2), p.mean.dim(3)});
    for (int b = 0; b < r.batch_size; ++b) {
        std::copy_n(p.mean.f32().begin() + b * e * hw, e * hw, moments.f32_mut().begin() + b * 2 * e * hw);
        std::copy_n(p.logvar.f32().begin() + b * e * hw, e * hw, moments.f32_mut().begin() + (b * 2 + 1) * e * hw);
    }
    return moments;
}

std::vector<Image> DiffusionPipeline::decode_batch(const AutoencoderKL& vae, const Tensor& latents, Arena& arena) const {
    // decode_first_stage: z = latent * (1 / scale_factor); image = clamp((x + 1) / 2, 0, 1)
    return images_of(vae.decode(scaled(latents, 1.0f / cfg_.vae.scale_factor), arena), true);
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
