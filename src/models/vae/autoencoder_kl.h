// models/vae/autoencoder_kl.h — ldm AutoencoderKL ("first_stage_model."), the SD VAE:
//   encode: moments = quant_conv(Encoder(x));  mean, logvar = chunk(moments, 2)     x in [-1, 1]
//   decode: x = Decoder(post_quant_conv(z))                                          z = latent / scale_factor
// Encoder: conv_in, levels of ResnetBlocks with a stride-2 Downsample (padded right/bottom) between,
// mid (ResnetBlock, AttnBlock, ResnetBlock), GN, SiLU, conv_out. Decoder mirrors it with nearest-2x
// Upsamples and one more ResnetBlock per level.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "models/vae/attn_block.h"
#include "models/vae/resnet_block.h"

namespace difu {

using VaeProbe = std::function<void(const std::string& name, const Tensor& value)>;  // NHWC values

struct VaeLevel {  // "down.{i}" / "up.{i}"
    std::vector<VaeResnetBlock> block;
    std::optional<Conv2d> resample;  // downsample.conv / upsample.conv
};

struct VaeMid {  // "mid."
    std::optional<VaeResnetBlock> block_1, block_2;
    std::optional<VaeAttnBlock> attn_1;
    Tensor forward(const Tensor& x, Arena& a, const VaeProbe& probe, const std::string& prefix) const;
};

struct Posterior {
    Tensor mean, logvar;  // [N, embed_dim, H/8, W/8], NCHW; logvar clamped to [-30, 20] as the original
    Tensor moments() const;  // [N, 2 * embed_dim, h, w]: mean then logvar per sample, as quant_conv gives them
};

class AutoencoderKL {
public:
    AutoencoderKL(const Checkpoint& ck, const ModelConfig& cfg, Precision precision = Precision::FP32);
    const VaeConfig& config() const { return cfg_; }
    int64_t downscale() const { return int64_t{1} << (cfg_.ch_mult.size() - 1); }  // 8 for SD

    Posterior encode(const Tensor& image, Arena& a) const;                           // [N, 3, H, W] -> latents
    Tensor decode(const Tensor& z, Arena& a, const VaeProbe& probe = nullptr) const;  // -> [N, 3, 8h, 8w] raw

private:
    VaeConfig cfg_;
    // encoder.*
    Conv2d enc_conv_in_, enc_conv_out_;
    std::vector<VaeLevel> down_;
    VaeMid enc_mid_;
    NormWeights enc_norm_out_;
    Linear quant_conv_, post_quant_conv_;
    // decoder.*
    Conv2d dec_conv_in_, dec_conv_out_;
    std::vector<VaeLevel> up_;  // indexed like the checkpoint: up[0] is the highest resolution
    VaeMid dec_mid_;
    NormWeights dec_norm_out_;
};

}  // namespace difu
