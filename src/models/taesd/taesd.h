// models/taesd/taesd.h — madebyollin's TAESD, the tiny autoencoder (taesd.py): about a hundredth of the
// SD VAE's work, for fast decodes and live previews. Released as taesd_encoder / taesd_decoder
// (.pth or .safetensors; keys are nn.Sequential indices "1.conv.0.weight", or diffusers' AutoencoderTiny
// "decoder.layers.1.conv.0.weight"). Conventions differ from the SD VAE: latents are the UNet's own
// (scale factor 1: no 0.18215), images are in [0, 1].
//   Block(x) = ReLU(conv4(ReLU(conv2(ReLU(conv0(x))))) + x)             (64 channels, 3x3 convs)
//   decoder: tanh(z/3)·3, conv(4→64), ReLU, 3 Blocks, then 3 × [nearest 2x, conv (no bias), Blocks
//            (3, 3, 1)], conv(64→3)
//   encoder: conv(3→64), Block, then 3 × [conv stride 2 (no bias), 3 Blocks], conv(64→4)
#pragma once
#include <string>
#include <vector>

#include "models/layers.h"

namespace difu {

struct TaesdBlock {
    Conv2d conv0, conv2, conv4;
    Tensor forward(const Tensor& x) const;  // NHWC
};

// One TAESD stage: a conv, a plain layer, or a Block, as the Sequential lists them.
struct TaesdLayer {
    enum class Kind { Conv, Block, Relu, Upsample, Clamp } kind;
    Conv2d conv{};
    TaesdBlock block{};
};

class TaesdModel {
public:
    enum class Part { Encoder, Decoder };
    // Reads the part from `path` (safetensors or a torch .pth); throws Error naming the file when its
    // keys are not a TAESD encoder / decoder of 4 latent channels.
    TaesdModel(const std::string& path, Part part, Precision precision = Precision::FP32);
    Part part() const { return part_; }
    const std::string& path() const { return path_; }

    // Decoder: UNet latents [N, 4, h, w] -> raw images [N, 3, 8h, 8w] (about [0, 1], not clamped).
    // Encoder: images [N, 3, H, W] in [0, 1] -> UNet latents [N, 4, H/8, W/8].
    Tensor forward(const Tensor& x_nchw) const;

private:
    std::string path_;
    Part part_;
    std::vector<TaesdLayer> layers_;
};

}  // namespace difu
