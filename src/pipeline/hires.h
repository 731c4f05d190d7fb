// pipeline/hires.h — webui's hires fix as a second stage of a txt2img run (processing.py
// StableDiffusionProcessingTxt2Img.sample_hr_pass): the first pass's latent is upscaled — in latent
// space with torch.nn.functional.interpolate (webui's "Latent ..." upscalers), or decoded, resized as a
// picture (Lanczos) and encoded again — then sampled again as img2img at the new size with fresh noise
// of the same seeds, hr_second_pass_steps steps (0: the first pass's), denoising_strength.
#pragma once
#include <optional>
#include <string>

#include "core/tensor.h"

namespace difu {

// webui's latent_upscale_modes: interpolate's mode and antialias flag.
enum class LatentUpscale { Bilinear, BilinearAntialiased, Bicubic, BicubicAntialiased, Nearest, NearestExact };

struct HiresUpscaler {
    bool latent = true;
    LatentUpscale mode = LatentUpscale::Bilinear;
    std::string label = "Latent";  // as webui names it (infotext "Hires upscaler")
};
// "Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)", "Latent (nearest)",
// "Latent (nearest-exact)"; the picture upscalers "None" and "Lanczos" (both Pillow's Lanczos in webui).
// Throws Error listing them for any other name (ESRGAN & co. are not part of difu).
HiresUpscaler parse_hires_upscaler(const std::string& name);

// torch.nn.functional.interpolate(x, size=(out_h, out_w), mode, align_corners=False, antialias) for
// x [B, C, h, w]: nearest floor(d · in/out), nearest-exact floor((d + 1/2) · in/out), bilinear and
// bicubic (A = -0.75, borders clamped) at d' = (d + 1/2) · in/out - 1/2; the antialiased modes as Pillow's
// separable filters (triangle; bicubic a = -0.5) widened by in/out when shrinking.
Tensor upscale_latent(const Tensor& x, int out_h, int out_w, LatentUpscale mode);

}  // namespace difu
