#include "models/vae/resnet_block.h"

#include "kernels/group_norm.h"

namespace difu {

VaeResnetBlock::VaeResnetBlock(const Weights& w, int64_t cin, int64_t cout)
    : norm1_(w.norm("norm1", cin)), norm2_(w.norm("norm2", cout)),
      conv1_(conv(w, "conv1", cout, cin, 3, ConvGeometry::same(3))),
      conv2_(conv(w, "conv2", cout, cout, 3, ConvGeometry::same(3))) {
    if (cin != cout) nin_shortcut_ = conv(w, "nin_shortcut", cout, cin, 1, ConvGeometry::same(1));
}

// At 512x512 these blocks set the decoder's peak memory (a 256-channel activation is 268 MB), so
// each temporary is freed as soon as it is consumed: conv1's output is allocated before norm1's and
// the norm is rewound after the conv; norm2 runs in place; the shortcut is added and freed.
Tensor VaeResnetBlock::forward(const Tensor& x, Arena& a) const {
    const int64_t n = x.dim(0), hh = x.dim(1), ww = x.dim(2);
    Tensor h = a.alloc({n, hh, ww, conv1_.out_channels()});
    {
        const Arena::Mark m = a.mark();
        const Tensor g = group_norm(norm1_, x, kLdmNormalizeEps, /*silu=*/true, a);
        conv1_.forward(g.data<float>(), n, hh, ww, h.mutable_data<float>());
        a.rewind(m);
    }
    group_norm_inplace(norm2_, h, kLdmNormalizeEps, /*silu=*/true);
    Tensor out = conv2_.forward(h, a);  // dropout: no-op
    if (nin_shortcut_) {
        const Arena::Mark m = a.mark();
        add_inplace(out, nin_shortcut_->forward(x, a));
        a.rewind(m);
    } else {
        add_inplace(out, x);
    }
    return out;
}

}  // namespace difu
