#include "models/unet/res_block.h"

#include "kernels/group_norm.h"

namespace difu {

ResBlock::ResBlock(const Weights& w, int64_t cin, int64_t cout, int64_t emb)
    : in_layers_0_(w.norm("in_layers.0", cin)),
      out_layers_0_(w.norm("out_layers.0", cout)),
      in_layers_2_(conv(w, "in_layers.2", cout, cin, 3, ConvGeometry::same(3))),
      out_layers_3_(conv(w, "out_layers.3", cout, cout, 3, ConvGeometry::same(3))),
      emb_layers_1_(w.linear("emb_layers.1", cout, emb)) {
    if (cin != cout) skip_connection_ = conv(w, "skip_connection", cout, cin, 1, ConvGeometry::same(1));
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& silu_emb, Arena& a) const {
    Tensor h = in_layers_2_.forward(group_norm(in_layers_0_, x, kUNetGroupNormEps, /*silu=*/true, a), a);
    add_channel_bias(h, emb_layers_1_.forward(silu_emb, a));
    h = out_layers_3_.forward(group_norm(out_layers_0_, h, kUNetGroupNormEps, /*silu=*/true, a), a);
    add_inplace(h, skip_connection_ ? skip_connection_->forward(x, a) : x);
    return h;
}

}  // namespace difu
