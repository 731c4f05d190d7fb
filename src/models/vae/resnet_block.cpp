#include "models/vae/resnet_block.h"

#include "kernels/group_norm.h"

namespace difu {

VaeResnetBlock::VaeResnetBlock(const Weights& w, int64_t cin, int64_t cout)
    : norm1_(w.norm("norm1", cin)), norm2_(w.norm("norm2", cout)),
      conv1_(conv(w, "conv1", cout, cin, 3, ConvGeometry::same(3))),
      conv2_(conv(w, "conv2", cout, cout, 3, ConvGeometry::same(3))) {
    if (cin != cout) nin_shortcut_ = conv(w, "nin_shortcut", cout, cin, 1, ConvGeometry::same(1));
}

Tensor VaeResnetBlock::forward(const Tensor& x, Arena& a) const {
    Tensor h = conv1_.forward(group_norm(norm1_, x, kLdmNormalizeEps, /*silu=*/true, a), a);
    h = conv2_.forward(group_norm(norm2_, h, kLdmNormalizeEps, /*silu=*/true, a), a);  // dropout: no-op
    add_inplace(h, nin_shortcut_ ? nin_shortcut_->forward(x, a) : x);
    return h;
}

}  // namespace difu
