// pipeline/image_conditioning.h — what an inpainting UNet (9 input channels) is given besides the
// latent: c_concat = [mask, masked-image latent] (runwayml's LatentInpaintDiffusion). Without a mask
// (txt2img, or img2img without one) webui's txt2img_image_conditioning masks everything: mask 1 and the
// latent of an all-gray image (0.5, i.e. 0 in the VAE's [-1, 1]).
#pragma once
#include "io/model_config.h"
#include "models/vae/tiled_vae.h"

namespace difu {

inline constexpr int64_t kInpaintingExtraChannels = 5;  // 1 mask + 4 latent channels

// [1, 5, height / 8, width / 8]; undefined for UNets that take the latent alone.
// webui encodes the gray image by sampling the VAE posterior with its global RNG; difu takes the
// posterior mean (the sample's spread on a flat image is the VAE's, tiny next to the latent).
Tensor txt2img_image_conditioning(const AutoencoderKL& vae, const ModelConfig& cfg, int width, int height, Arena& arena,
                                  const VaeTilingPolicy& tiling = {});

}  // namespace difu
