// models/unet/cross_attention.h — ldm attention.CrossAttention ("...transformer_blocks.0.attn1/attn2"):
//   Q = x W_q,  K = c W_k,  V = c W_v   (c = x for self-attention "attn1", the text context for "attn2")
//   out = to_out.0( concat_h softmax(Q_h K_h^T / sqrt(d_head)) V_h )
#pragma once
#include "models/layers.h"

namespace difu {

class CrossAttention {
public:
    CrossAttention(const Weights& w, int64_t query_dim, int64_t context_dim, int64_t heads);
    // x [N, L, query_dim], context [N, Lc, context_dim] (or x itself) -> [N, L, query_dim]
    Tensor forward(const Tensor& x, const Tensor& context, Arena& a) const;

private:
    int64_t heads_, inner_;
    Linear to_q_, to_k_, to_v_, to_out_0_;  // to_out.1 is dropout
};

}  // namespace difu
