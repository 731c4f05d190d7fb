#include "models/unet/basic_transformer_block.h"

#include <cmath>

#include "kernels/profile.h"
#include "kernels/vec_math.h"

namespace difu {

constexpr int64_t kFeedForwardMult = 4;  // FeedForward(dim, mult=4, glu=True)

BasicTransformerBlock::BasicTransformerBlock(const Weights& w, int64_t dim, int64_t context_dim, int64_t heads)
    : norm1_(w.norm("norm1", dim)),
      norm2_(w.norm("norm2", dim)),
      norm3_(w.norm("norm3", dim)),
      attn1_(w.sub("attn1"), dim, dim, heads, AttentionKind::Self),
      attn2_(w.sub("attn2"), dim, context_dim, heads, AttentionKind::Cross),
      ff_net_0_proj_(w.linear("ff.net.0.proj", 2 * kFeedForwardMult * dim, dim)),
      ff_net_2_(w.linear("ff.net.2", dim, kFeedForwardMult * dim)) {}

Tensor BasicTransformerBlock::feed_forward(const Tensor& x, Arena& a) const {
    Tensor p = ff_net_0_proj_.forward(x, a);  // [.., 2 inner]: value half, then gate half (GEGLU.chunk(2))
    const int64_t inner = p.dim(-1) / 2, rows = p.numel() / p.dim(-1);
    Shape hs = x.shape();
    hs.back() = inner;
    Tensor h = a.alloc(hs);
    const float* pp = p.data<float>();
    float* hp = h.mutable_data<float>();
    {
        KernelScope profile_scope(KernelKind::Elementwise);  // this loop only: ff_net_2_ times itself
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
            for (int64_t i = 0; i < inner; ++i) {
                const float value = pp[r * 2 * inner + i], gate = pp[r * 2 * inner + inner + i];
                hp[r * inner + i] = value * vec::gelu(gate);  // GEGLU: value * gelu(gate), exact-erf gelu
            }
    }
    return ff_net_2_.forward(h, a);
}

Tensor BasicTransformerBlock::forward(const Tensor& x0, const Tensor& context, Arena& a) const {
    Tensor x = x0;
    Tensor n1 = layer_norm(norm1_, x, a);
    x = add(attn1_.forward(n1, n1, a), x, a);  // self-attention: the context is x itself
    x = add(attn2_.forward(layer_norm(norm2_, x, a), context, a), x, a);
    x = add(feed_forward(layer_norm(norm3_, x, a), a), x, a);
    return x;
}

}  // namespace difu
