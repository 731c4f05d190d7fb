#include "models/unet/basic_transformer_block.h"

#include <algorithm>
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

// GEGLU feed-forward, a block of rows at a time: the [rows, 8 dim] projection of a 64x64 latent
// would be an 84 MB temporary; per 2048 rows it is 21 MB, and the matmuls stay as fast.
Tensor BasicTransformerBlock::feed_forward(const Tensor& x, Arena& a) const {
    constexpr int64_t kRowsPerPass = 2048;
    const int64_t dim = x.dim(-1), inner = ff_net_2_.in_features(), rows = x.numel() / dim;
    Tensor out = a.alloc(x.shape());
    const int64_t chunk = std::min(rows, kRowsPerPass);
    Tensor p = a.alloc({chunk, 2 * inner}), h = a.alloc({chunk, inner});
    float* pp = p.mutable_data<float>();
    float* hp = h.mutable_data<float>();
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t m = std::min(chunk, rows - r0);
        ff_net_0_proj_.forward(x.data<float>() + r0 * dim, m, pp);  // value half, then gate half (GEGLU.chunk(2))
        {
            KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < m; ++r)
#pragma omp simd
                for (int64_t i = 0; i < inner; ++i) {
                    const float value = pp[r * 2 * inner + i], gate = pp[r * 2 * inner + inner + i];
                    hp[r * inner + i] = value * vec::gelu(gate);  // GEGLU: value * gelu(gate), exact-erf gelu
                }
        }
        ff_net_2_.forward(hp, m, out.mutable_data<float>() + r0 * dim);
    }
    return out;
}

// Each residual branch's temporaries are freed as soon as its result is added into x.
Tensor BasicTransformerBlock::forward(Tensor x, const Tensor& context, Arena& a) const {
    auto residual = [&](auto&& branch) {
        const Arena::Mark m = a.mark();
        add_inplace(x, branch());
        a.rewind(m);
    };
    residual([&] {
        Tensor n1 = layer_norm(norm1_, x, a);
        return attn1_.forward(n1, n1, a);  // self-attention: the context is x itself
    });
    residual([&] { return attn2_.forward(layer_norm(norm2_, x, a), context, a); });
    residual([&] { return feed_forward(layer_norm(norm3_, x, a), a); });
    return x;
}

}  // namespace difu
