// pipeline/inpaint_mask.h — the mask a request brings, made into what webui's img2img works with
// (StableDiffusionProcessingImg2Img.init, modules/masking.py), and its options:
//   L = luminance of the mask (an RGBA mask with transparency: its alpha > 128), inverted on request,
//   blurred (cv2.GaussianBlur along x, then y), resized to the picture: 255 = repaint.
//   "Only masked" (inpaint_full_res): the box around L > 0 plus padding, widened to the request's
//   aspect, is cut out of picture and mask, inpainted at the request's size and pasted back.
//   Masked content (inpainting_fill): fill (the hole painted from blurred surroundings), original,
//   latent noise, latent nothing.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "io/image.h"

namespace difu {

enum class InpaintFill { Fill, Original, LatentNoise, LatentNothing };  // webui's inpainting_fill 0..3
// "fill", "original", "latent noise", "latent nothing" (webui's labels, any case) or "0".."3".
InpaintFill parse_inpaint_fill(const std::string& name);
const char* inpaint_fill_label(InpaintFill fill);  // webui's infotext words ("latent noise", ...)

// webui's inpainting options. The defaults here do nothing beyond the mask itself (the library's and
// the reference scripts' behaviour); the CLI and the API put webui's defaults in front of them.
struct InpaintOptions {
    int blur_x = 0, blur_y = 0;  // mask_blur_x / mask_blur_y: Gaussian sigma in pixels
    InpaintFill fill = InpaintFill::Original;
    bool only_masked = false;    // inpaint_full_res
    int only_masked_padding = 32;  // inpaint_full_res_padding, pixels
    bool invert = false;         // inpainting_mask_invert: repaint the black part
    bool composite = true;       // paste the result over the original inside the mask (webui; inpaint_st.py does not)
    float mask_weight = 1.0f;    // inpainting_mask_weight: how much of the masked image an inpainting UNet sees removed
    bool round = true;           // mask_round: the latent mask and an inpainting UNet's mask rounded to 0 / 1
    // Internal: the request's mask is already L at the request's size, inverted and blurred (the only-
    // masked stage hands its crops on so); the fields above then only label the infotext.
    bool mask_prepared = false;
};

// L of a mask image, inverted on request: one channel, 255 = repaint (webui's create_binary_mask + invert).
Image mask_luminance(const Image& mask, bool invert);
// cv2.GaussianBlur(L, (k, 1), sigma_x) then (1, k), k = 2 int(2.5 sigma + 0.5) + 1, reflect-101 borders,
// rounded to u8; a sigma of 0 skips that direction.
Image blur_mask(const Image& l, int sigma_x, int sigma_y);

// A rectangle of pixels: columns [x1, x2), rows [y1, y2).
struct PixelBox {
    int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    int width() const { return x2 - x1; }
    int height() const { return y2 - y1; }
};
// masking.get_crop_region_v2: the box around L > 0, padded and clipped to the mask; none when L is 0.
std::optional<PixelBox> masked_box(const Image& l, int padding);
// masking.expand_crop_region: the box widened (or heightened) to width : height, kept inside the image.
PixelBox expand_to_aspect(const PixelBox& box, int width, int height, int image_width, int image_height);
Image crop_box(const Image& img, const PixelBox& box);

// masking.fill: the picture with the masked part (L / 255 of each pixel) painted in from its blurred
// surroundings, Gaussian radii 256, 64, 16, 4, 2, 0 composited in turn. L has the picture's size.
Image fill_masked(const Image& picture, const Image& l);

}  // namespace difu
