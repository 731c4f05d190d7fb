// pipeline/inpaint.h — inpainting as a stage of the pipeline: the mask a request brings, and what an
// inpainting UNet (9 input channels) is conditioned on, as runwayml's inpaint_st.py builds it
// (make_batch_sd, LatentInpaintDiffusion):
//   mask   = round(L(mask image) / 255), i.e. >= 0.5 (1 = repaint; webui's invert swaps), image's size
//   masked = image · (1 - mask)              image in [-1, 1]: repainted pixels become 0 (mid-gray)
//   c_concat = [mask at latent size (nearest: pixel (8i, 8j)), scale_factor · posterior sample of masked]
// With denoising strength 1 the run starts from pure noise, as inpaint_st.py does.
// Any model, img2img with a mask (webui's StableDiffusionProcessingImg2Img): the latent mask is the
// repaint mask shrunk to latent size (Pillow bicubic) and rounded; every model call's denoised estimate
// keeps the init latent outside it (CFGDenoiser: D = init · keep + D · repaint), the final latent too, and
// the decoded picture is pasted over the original inside the mask (webui's overlay).
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "io/image.h"
#include "io/model_config.h"
#include "models/vae/tiled_vae.h"
#include "pipeline/inpaint_mask.h"

namespace difu {

// The request's mask as webui works with it (pipeline/inpaint_mask.h): L, inverted and blurred as the
// options say, resized to width x height (Lanczos, as the init image); 255 = repaint. A prepared mask
// (o.mask_prepared) is checked and taken as it is. Throws Error for an empty mask image.
Image prepared_mask(const Image& mask, const InpaintOptions& o, int width, int height);
// An L mask by webui's "Resize and fill" (the only-masked stage's crops).
Image resize_mask_and_fill(const Image& l, int width, int height);
// Each pixel's share of repaint, L / 255.
std::vector<float> mask_shares(const Image& l);
// webui's overlay: the generated picture's share of each pixel in the composite, min(2 L, 255) / 255.
std::vector<float> overlay_alpha(const Image& l);

// Outpainting as inpainting: the picture padded by the given margins (pixels, multiples of 8) with its
// edge pixels repeated outwards, and the mask that repaints the margins (white) and keeps the picture.
struct Outpaint {
    int left = 0, right = 0, top = 0, bottom = 0;
};
Outpaint parse_outpaint(const std::string& spec);  // "left=128,right=0,top=64,bottom=0"; Error naming the part
std::pair<Image, Image> outpaint_canvas(const Image& picture, const Outpaint& margins);

// webui's latmask: the prepared mask at width/8 x height/8 (Pillow bicubic), / 255, rounded unless
// `round` is false (mask_round); 1 = repaint.
std::vector<float> latent_repaint_mask(const Image& l, bool round = true);
// x · repaint + init · (1 - repaint) per latent cell, for every image and channel of x [B, C, h, w].
Tensor blend_latents(const Tensor& x, const Tensor& init, const std::vector<float>& repaint);
// webui's overlay composite: original (at the generated size) · (1 - alpha) + generated · alpha.
Image paste_inpainted(const Image& generated, const Image& original, const std::vector<float>& alpha);

// c_concat [1, 5, H/8, W/8] of an inpainting UNet for `image` [1, 3, H, W] in [-1, 1] and the mask's
// shares (H x W, rounded here unless `round` is false). `noise` [1, 4, H/8, W/8] samples the masked image's posterior;
// undefined: its mean. mask_weight: webui's inpainting_mask_weight, masked = image · (1 - weight · mask).
Tensor inpainting_conditioning(const AutoencoderKL& vae, const ModelConfig& cfg, const Tensor& image,
                               const std::vector<float>& mask, const Tensor& noise, Arena& arena,
                               const VaeTilingPolicy& tiling = {}, float mask_weight = 1.0f, bool round = true);

}  // namespace difu
