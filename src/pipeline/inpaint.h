// pipeline/inpaint.h — inpainting as a stage of the pipeline: the mask a request brings, and what an
// inpainting UNet (9 input channels) is conditioned on, as runwayml's inpaint_st.py builds it
// (make_batch_sd, LatentInpaintDiffusion):
//   mask   = L(mask image) / 255 >= 0.5 (1 = repaint; webui's invert swaps), at the image's size
//   masked = image · (mask < 0.5)             image in [-1, 1]: repainted pixels become 0 (mid-gray)
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
#include "models/vae/autoencoder_kl.h"

namespace difu {

// The binary repaint mask at width x height: 1 = repaint. A mask of another size is resized as the
// init image is (Lanczos) before the threshold. Throws Error for an empty mask image.
std::vector<float> repaint_mask(const Image& mask, int width, int height, bool invert);

// c_concat [1, 5, H/8, W/8] of an inpainting UNet for `image` [1, 3, H, W] in [-1, 1] and the binary
// `mask` (H x W). `noise` [1, 4, H/8, W/8] samples the masked image's posterior; undefined: its mean.
// Outpainting as inpainting: the picture padded by the given margins (pixels, multiples of 8) with its
// edge pixels repeated outwards, and the mask that repaints the margins (white) and keeps the picture.
struct Outpaint {
    int left = 0, right = 0, top = 0, bottom = 0;
};
Outpaint parse_outpaint(const std::string& spec);  // "left=128,right=0,top=64,bottom=0"; Error naming the part
std::pair<Image, Image> outpaint_canvas(const Image& picture, const Outpaint& margins);

// webui's latmask: the repaint mask at width/8 x height/8, 1 = repaint.
std::vector<float> latent_repaint_mask(const std::vector<float>& mask, int width, int height);
// x · repaint + init · (1 - repaint) per latent cell, for every image and channel of x [B, C, h, w].
Tensor blend_latents(const Tensor& x, const Tensor& init, const std::vector<float>& repaint);
// The generated picture inside the mask, the original (at the generated size) outside.
Image paste_inpainted(const Image& generated, const Image& original, const std::vector<float>& mask);

Tensor inpainting_conditioning(const AutoencoderKL& vae, const ModelConfig& cfg, const Tensor& image,
                               const std::vector<float>& mask, const Tensor& noise, Arena& arena);

}  // namespace difu
