// pipeline/noise.h — where a batch's random numbers come from, as the tools users compare with draw them.
//   Cpu (difu's default, ComfyUI's convention): torch's CPU generator seeded with the seed draws the whole
//       batch's initial noise [B, C, h, w]; ancestral / SDE noise comes from a second CPU generator seeded
//       with seed + 1, one randn(latent shape) per draw.
//   Gpu (webui's default "GPU" on an NVIDIA card, its "NV" setting): one philox generator per image,
//       Generator(seed + i), drawing (C, h, w) per image and call; the initial noise is each generator's
//       first call, every later draw its next one (webui's ImageRNG.next()).
// Variation seeds (webui's subseed, subseed_strength): image i's initial noise becomes
// slerp(strength, noise_i, subnoise_i), subnoise_i the first draw of a fresh generator of the same kind
// seeded with subseed + i, with webui's slerp taken over the height axis of each (C, h, w) tensor.
// Seed resize (webui's seed_resize_from_w / h): image i's initial noise (and subnoise) is drawn at the old
// size by a fresh generator of seed + i, then pasted centred into (or cropped from the centre onto) the
// first draw of the image's own size, as webui's ImageRNG.first does.
// The SDE samplers draw from Brownian trees seeded with the seed instead (see brownian()).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/philox_rng.h"
#include "core/torch_rng.h"
#include "pipeline/request.h"
#include "sampling/denoiser.h"

namespace difu {

// webui's slerp(val, low, high) on [C, H, W]: norms and dots over dim 1 (H) per (channel, column); a
// plain lerp low·val + high·(1 - val) where the directions nearly agree (mean dot > 0.9995).
Tensor webui_slerp(float val, const Tensor& low, const Tensor& high);

class BatchNoise {
public:
    // `shape` is the batch's latent [B, C, h, w]; image i's seed is seed + i (webui, Gpu) or the batch
    // shares the seed's generator (Cpu).
    BatchNoise(RngSource source, int64_t seed, const Shape& shape, const Variation& variation);

    Tensor first();  // the initial noise
    Tensor next();   // each later draw of the latent's shape (ancestral samplers)
    // The SDE samplers' noise: increments of Brownian paths on [sigma_min, sigma_max] (k-diffusion's
    // BrownianTreeNoiseSampler). Cpu (ComfyUI): one path over the whole batch, entropy = seed, torch's CPU
    // generator; Gpu (webui): one path per image, entropy = seed + i, philox generators.
    NoiseSampler brownian(float sigma_min, float sigma_max) const;
    // img2img: the VAE posterior's sample noise for `shape` (torch's CPU generator of the seed, after
    // the initial noise; webui draws it from torch's global generator, which no seed reproduces).
    Tensor posterior(const Shape& shape);

private:
    Tensor fresh_randn(uint64_t seed, const Shape& shape) const;  // a new generator's first draw
    static Tensor paste_centred(const Tensor& small, Tensor target);
    RngSource source_;
    int64_t seed_;
    Shape shape_;
    Variation variation_;
    TorchCpuGenerator cpu_;        // Cpu: the batch's generator; Gpu: the posterior's
    TorchCpuGenerator cpu_steps_;  // Cpu: the per-step generator (seed + 1)
    std::vector<PhiloxGenerator> philox_;  // Gpu: one per image
};

}  // namespace difu
