// pipeline/guidance.h — classifier-free guidance over the UNet, as the samplers want it:
//   eps_hat = eps_u + s (eps_c - eps_u)    with the unconditional and conditional halves in one
//                                           batch-2B UNet call ([uncond..., cond...]); s <= 1 skips the
//                                           unconditional half (eps_hat = eps_c: Turbo models, cfg 0 or 1).
//   k-diffusion:  D(x, sigma) = c_skip x + c_out F(c_in x, t(sigma)),  c_in = 1 / sqrt(sigma^2 + 1)
//                   eps models (CompVisDenoiser):   c_skip = 1,                c_out = -sigma
//                   v models (CompVisVDenoiser):    c_skip = 1 / (sigma^2 + 1), c_out = -sigma / sqrt(sigma^2 + 1)
//                 guidance applied to D as k-diffusion's CFGDenoiser does.
//   CompVis DDIM / PLMS on a v model: guidance on v, then eps = sqrt(a_t) v + sqrt(1 - a_t) x
//                 (LatentDiffusion.predict_eps_from_z_and_v).
#pragma once
#include "models/unet/unet.h"
#include "pipeline/conditioning.h"
#include "sampling/denoiser.h"
#include "sampling/schedule.h"

namespace difu {

struct GuidedModel {
    const UNetModel& unet;
    const DiscreteSchedule& schedule;
    Conditioning cond, uncond;  // contexts [1, L, C] each, the same L (see pad_to_same_length)
    float scale = 7.0f;
    Arena& arena;
    int* unet_calls = nullptr;  // counts UNet evaluations (progress, tests)
    Prediction prediction = Prediction::Eps;  // what the UNet outputs
    // Inpainting UNets: c_concat [1, 5, h, w] (mask, masked-image latent), the same for both halves,
    // concatenated after the latent channels of the (c_in-scaled) input, as LatentDiffusion.apply_model.
    Tensor image_conditioning{};
};

Denoiser make_cfg_denoiser(const GuidedModel& m);
EpsModel make_cfg_eps(const GuidedModel& m);

// webui pads the shorter of cond / uncond with the encoding of an empty 77-token chunk so both halves
// of the batch have the same token count. `empty_chunk` is that encoding, [1, 77, C].
void pad_to_same_length(Conditioning& cond, Conditioning& uncond, const Tensor& empty_chunk);

}  // namespace difu
