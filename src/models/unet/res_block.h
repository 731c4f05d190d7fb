// models/unet/res_block.h — openaimodel.ResBlock ("input_blocks.1.0", "middle_block.0", ...):
//   h = conv(SiLU(GN(x)))                                   in_layers  (0 = GN, 2 = conv)
//   h = h + emb_layers(SiLU(t_emb))  per channel           emb_layers (1 = linear)
//   h = conv(SiLU(GN(h)))                                   out_layers (0 = GN, 3 = conv; 2 = dropout)
//   out = skip(x) + h                                       skip = 1x1 conv when channels change
#pragma once
#include <optional>

#include "models/layers.h"

namespace difu {

class ResBlock {
public:
    ResBlock(const Weights& w, int64_t in_channels, int64_t out_channels, int64_t emb_channels);
    // x [N, H, W, Cin], silu_emb = SiLU(time embedding) [N, emb] (shared by every ResBlock).
    Tensor forward(const Tensor& x, const Tensor& silu_emb, Arena& a) const;

private:
    NormWeights in_layers_0_, out_layers_0_;
    Conv2d in_layers_2_, out_layers_3_;
    Linear emb_layers_1_;
    std::optional<Conv2d> skip_connection_;
};

}  // namespace difu
