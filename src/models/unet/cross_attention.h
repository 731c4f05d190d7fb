// models/unet/cross_attention.h — ldm attention.CrossAttention ("...transformer_blocks.0.attn1/attn2"):
//   Q = x W_q,  K = c W_k,  V = c W_v   (c = x for self-attention "attn1", the text context for "attn2")
//   out = to_out.0( concat_h softmax(Q_h K_h^T / sqrt(d_head)) V_h )
#pragma once
#include "models/layers.h"

namespace difu {

enum class AttentionKind { Self, Cross };

class CrossAttention {
public:
    // Self-attention ("attn1") computes Q, K, V with one matmul over the concatenated weights
    // [W_q; W_k; W_v]: three times the columns per call, the same numbers.
    CrossAttention(const Weights& w, int64_t query_dim, int64_t context_dim, int64_t heads, AttentionKind kind);
    // x [N, L, query_dim], context [N, Lc, context_dim] (or x itself) -> [N, L, query_dim]
    Tensor forward(const Tensor& x, const Tensor& context, Arena& a) const;

private:
    Tensor attend(const float* q, const float* k, const float* v, int64_t batch, int64_t q_len, int64_t kv_len,
                  int64_t q_stride, int64_t kv_stride, Arena& a) const;
    int64_t heads_, inner_;
    Linear to_q_, to_k_, to_v_;  // cross-attention
    Linear to_qkv_;              // self-attention: rows to_q, to_k, to_v stacked
    Linear to_out_0_;            // to_out.1 is dropout
    AttentionKind kind_;
};

}  // namespace difu
