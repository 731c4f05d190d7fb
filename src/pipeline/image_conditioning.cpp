#include "pipeline/image_conditioning.h"

#include <cstring>

namespace difu {

Tensor txt2img_image_conditioning(const AutoencoderKL& vae, const ModelConfig& cfg, int width, int height,
                                  Arena& arena, const VaeTilingPolicy& tiling) {
    const int64_t extra = cfg.unet.in_channels - cfg.unet.out_channels;
    if (extra == 0) return Tensor();
    if (extra != kInpaintingExtraChannels)
        throw Error::make("UNets with {} input channels ({}) are not supported yet", cfg.unet.in_channels, cfg.variant);
    Tensor gray = Tensor::empty({1, 3, height, width});  // 0.5 in [0, 1] is 0 in the VAE's [-1, 1]
    for (float& v : gray.f32_mut()) v = 0.0f;
    const Tensor mean = vae_encode(vae, gray, tiling, arena).mean.contiguous();  // [1, 4, h, w]
    const int64_t hw = mean.dim(2) * mean.dim(3);
    Tensor c = Tensor::empty({1, kInpaintingExtraChannels, mean.dim(2), mean.dim(3)});
    float* p = c.mutable_data<float>();
    for (int64_t i = 0; i < hw; ++i) p[i] = 1.0f;  // the mask: repaint everything
    for (int64_t i = 0; i < mean.numel(); ++i) p[hw + i] = mean.data<float>()[i] * cfg.vae.scale_factor;
    return c;
}

}  // namespace difu
