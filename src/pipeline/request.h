// pipeline/request.h — one generation job, as both front ends (CLI flags, HTTP JSON) describe it.
// The CLI and the server only fill this struct; everything else happens in the pipeline, so they
// cannot disagree about what a request means.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/image.h"
#include "pipeline/inpaint_mask.h"
#include "pipeline/vector_conditioning.h"

namespace difu {

inline constexpr int64_t kRandomSeed = -1;  // pick a random seed and report it
inline constexpr int kLatentDownscale = 8;   // image pixels per latent cell (the VAE's factor)
inline constexpr int kModelDefaultSize = 0;  // width / height: the model's own (512, 768 for v, 1024 SDXL)

// The random source of the noise (pipeline/noise.h): torch's CPU generator (ComfyUI's convention), or
// webui's GPU / NV philox generators.
enum class RngSource { Cpu, Gpu };
// "cpu"; "gpu", "nv", "cuda" (webui's GPU / NV, sd.cpp's cuda), any case. Throws Error naming the choices.
RngSource parse_rng_source(const std::string& name);
// webui's infotext / randn_source label: "CPU" or "NV" (the philox emulation of its GPU numbers).
const char* rng_label(RngSource source);

// webui's variation seed: image i's initial noise is slerped towards the noise of subseed + i.
struct Variation {
    int64_t subseed = kRandomSeed;  // -1: a random one when strength > 0
    float strength = 0.0f;          // 0: none, 1: the subseed's noise alone
    // webui's "Resize seed from width / height": the noise drawn at this image size, centred in (or cropped
    // to) the request's; 0 = off.
    int resize_from_width = 0, resize_from_height = 0;
    bool resizes() const { return resize_from_width > 0 && resize_from_height > 0; }
};

// webui's sd_vae_encode_method / sd_vae_decode_method: the checkpoint's VAE, or the tiny TAESD
// (DiffusionPipeline::set_taesd), about a hundred times less work and a little less detail.
enum class VaeMethod { Full, Taesd };

// webui's hires fix (txt2img): a second pass at the first pass's size × scale, or at resize_width x
// resize_height (either alone keeps the aspect), from the upscaled first-pass latent (pipeline/hires.h).
struct HiresFix {
    float scale = 2.0f;
    int resize_width = 0, resize_height = 0;
    std::string upscaler = "Latent";
    int steps = 0;                     // 0: the first pass's
    float denoising_strength = 0.75f;  // webui's processing default
    std::string sampler;               // "": the first pass's
    std::optional<std::string> prompt, negative_prompt;
    std::optional<float> cfg_scale;
};
// The second pass's picture size and the latent rows / columns webui trims off when a resize target has
// another aspect than the first pass (truncate_x / truncate_y, in latent cells).
struct HiresSize {
    int width, height, trim_x, trim_y;
};
HiresSize hires_size(int width, int height, const HiresFix& h);

// A LoRA network merged into the model for one request (webui's <lora:name:te:unet>, the CLI's --lora).
struct LoraUse {
    std::string path;
    float te = 1.0f, unet = 1.0f;  // multipliers of its text-encoder and UNet modules
    bool operator==(const LoraUse&) const = default;
};

// webui's resize_mode: how an init image (and its mask) of another size than the request's is fitted.
enum class ResizeMode {
    Just,           // 0 "Just resize": stretched to width x height (Lanczos)
    CropAndResize,  // 1: scaled to cover, centre cropped
    ResizeAndFill,  // 2: scaled to fit, centred, the bands filled with its edges
    LatentUpscale,  // 3 "Just resize (latent upscale)": encoded at its own size, the latent resized (bilinear)
};
// The picture at width x height by `mode`; LatentUpscale gives it at its own size, trimmed to whole
// latent cells (the VAE's grid).
Image fit_init_image(const Image& img, ResizeMode mode, int width, int height);

struct GenerateRequest {
    std::string prompt;
    std::string negative_prompt;
    int width = kModelDefaultSize, height = kModelDefaultSize;
    int steps = 20;
    float cfg_scale = 7.0f;
    std::string sampler = "euler_a";
    std::string scheduler = "discrete";  // discrete (the model's own sigmas), karras, exponential
    int64_t seed = kRandomSeed;
    RngSource rng = RngSource::Cpu;
    Variation variation;
    int clip_skip = 1;        // 1 = last layer; 2 = penultimate (webui "Clip skip: 2")
    int batch_count = 1;      // sequential batches
    int batch_size = 1;       // images per UNet batch
    float eta = 0.0f;         // DDIM eta
    VaeMethod decode = VaeMethod::Full, encode = VaeMethod::Full;  // latents to pixels, the init image to latents
    SizeConditioning size_conditioning;  // SDXL's original size / crop / target size (default: the image's)
    // img2img: start from this picture, keeping (1 - strength) of it.
    std::optional<Image> init_image;
    // webui's init_images[1:]: with them, batch position i starts from picture i (init_image first) and
    // batch_size must be their count; each is fitted, filled and pasted over on its own.
    std::vector<Image> more_init_images;
    ResizeMode resize_mode = ResizeMode::Just;
    float strength = 0.75f;
    // webui's initial_noise_multiplier: img2img's noise is scaled by this before it is added.
    float initial_noise_multiplier = 1.0f;
    // Inpainting (pipeline/inpaint.h, pipeline/inpaint_mask.h): white = repaint, black is kept; needs init_image.
    std::optional<Image> mask;
    InpaintOptions inpaint;
    // The masked image's VAE posterior sample noise [1, 4, H/8, W/8] for an inpainting UNet's
    // conditioning (to reproduce a stored run); unset: the posterior mean.
    std::optional<Tensor> mask_image_noise;
    // Hand the run over to the pipeline's refiner (DiffusionPipeline::set_refiner) once it is this far
    // through, webui's refiner_switch_at (pipeline/refiner.h); unset: no refiner.
    std::optional<float> refiner_switch_at;
    std::optional<HiresFix> hires;  // txt2img only
    // LoRA networks merged into the model (text encoders and UNet) for this request; the prompt's own
    // <lora:...> tags are resolved into this list by the front end (pipeline/extra_networks.h).
    std::vector<LoraUse> loras;
    // Replaces the seed's initial noise [batch_size, 4, H/8, W/8] (to reproduce another tool's exact
    // run from its stored noise); the seed still drives the ancestral noise.
    std::optional<Tensor> initial_noise;
};


// How many init images a request has (0: txt2img), and the one batch position `position` starts from.
int init_image_count(const GenerateRequest& r);
const Image& init_image_at(const GenerateRequest& r, int64_t position);
// Every init image flattened onto white and fitted to the request's size by its resize mode (webui does
// this first, before masks and fills look at them).
void fit_init_images(GenerateRequest& r);

// Limits a front end enforces before a request reaches the pipeline (the server makes them configurable).
struct RequestLimits {
    int max_side = 2048, max_steps = 500, max_batch = 16;
};
// Throws Error naming the field for anything out of range (size not a multiple of 8, steps < 1, ...).
void validate_request(const GenerateRequest& r, const RequestLimits& limits = {});

}  // namespace difu
