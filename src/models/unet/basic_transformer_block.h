// models/unet/basic_transformer_block.h — ldm attention.BasicTransformerBlock ("transformer_blocks.{i}"):
//   x = attn1(norm1(x)) + x            self-attention
//   x = attn2(norm2(x), context) + x   cross-attention on the text
//   x = ff(norm3(x)) + x               GEGLU feed-forward: net.2( a * gelu(g) ), [a, g] = net.0.proj(x)
#pragma once
#include "models/unet/cross_attention.h"

namespace difu {

class BasicTransformerBlock {
public:
    BasicTransformerBlock(const Weights& w, int64_t dim, int64_t context_dim, int64_t heads);
    // x [N, L, dim] is the residual stream: updated in place and returned.
    Tensor forward(Tensor x, const Tensor& context, Arena& a) const;

private:
    Tensor feed_forward(const Tensor& x, Arena& a) const;
    NormWeights norm1_, norm2_, norm3_;
    CrossAttention attn1_, attn2_;
    Linear ff_net_0_proj_, ff_net_2_;
};

}  // namespace difu
