// models/unet/unet.h — openaimodel.UNetModel of SD 1.x ("model.diffusion_model."):
//   emb = time_embed(timestep_embedding(t)) [+ label_emb(y)]  Linear, SiLU, Linear (y: SDXL's vector)
//   h = input_blocks(x), each output kept as a skip          conv_in, [ResBlock, SpatialTransformer] x levels, Downsample
//   h = middle_block(h)                                      ResBlock, SpatialTransformer, ResBlock
//   h = output_blocks(cat(h, skip.pop()))                    [ResBlock, SpatialTransformer, Upsample]
//   eps = out(h)                                             GN, SiLU, conv
#pragma once
#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "io/model_config.h"
#include "models/unet/res_block.h"
#include "models/unet/sample_blocks.h"
#include "models/unet/spatial_transformer.h"

namespace difu {

// Sees intermediate tensors by the original's module names ("input_blocks.3", "middle_block", ...),
// NHWC; used by tests to compare with the reference block by block.
using UNetProbe = std::function<void(const std::string& name, const Tensor& value)>;

class UNetModel {
public:
    UNetModel(const Checkpoint& ck, const ModelConfig& cfg, Precision precision = Precision::FP32);

    const UNetConfig& config() const { return cfg_; }
    // Latent height and width must be multiples of this (one halving per Downsample).
    int64_t size_multiple() const { return int64_t{1} << (cfg_.channel_mult.size() - 1); }

    // x [N, in, H, W] (NCHW, as latents are stored), timesteps [N] (may be fractional),
    // context [N, L, context_dim] -> the model output [N, out, H, W] (eps for SD 1.x).
    Tensor forward(const Tensor& x, std::span<const float> timesteps, const Tensor& context, Arena& a,
                   const UNetProbe& probe = nullptr) const;
    // SDXL: y [N, adm_in_channels] (pooled text embedding and size / crop Fourier features) through
    // label_emb, added to the time embedding.
    Tensor forward(const Tensor& x, std::span<const float> timesteps, const Tensor& context, const Tensor& y, Arena& a,
                   const UNetProbe& probe = nullptr) const;

private:
    using Layer = std::variant<Conv2d, ResBlock, SpatialTransformer, Downsample, Upsample>;
    using Block = std::vector<Layer>;  // TimestepEmbedSequential
    Tensor run_block(const Block& block, Tensor h, const Tensor& silu_emb, const Tensor& context, Arena& a) const;

    UNetConfig cfg_;
    Linear time_embed_0_, time_embed_2_;
    Linear label_emb_0_0_, label_emb_0_2_;  // adm_in_channels > 0
    std::vector<Block> input_blocks_, output_blocks_;
    Block middle_block_;
    NormWeights out_0_;
    Conv2d out_2_;
};

}  // namespace difu
