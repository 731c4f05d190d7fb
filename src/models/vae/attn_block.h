// models/vae/attn_block.h — ldm model.AttnBlock ("encoder.mid.attn_1"): single-head self-attention
// over all pixels, q/k/v/proj_out as 1x1 convs:
//   h = norm(x);  out = x + proj_out(softmax(q k^T / sqrt(C)) v)
#pragma once
#include "models/layers.h"

namespace difu {

class VaeAttnBlock {
public:
    VaeAttnBlock(const Weights& w, int64_t channels);
    Tensor forward(const Tensor& x, Arena& a) const;  // NHWC

private:
    NormWeights norm_;
    Linear q_, k_, v_, proj_out_;
};

}  // namespace difu
