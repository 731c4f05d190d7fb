#include "models/unet/spatial_transformer.h"

#include "kernels/group_norm.h"

namespace difu {

namespace {
Linear projection(const Weights& w, const std::string& name, int64_t c, bool linear_proj) {
    return linear_proj ? w.linear(name, c, c) : conv1x1_as_linear(w, name, c, c);
}
}  // namespace

SpatialTransformer::SpatialTransformer(const Weights& w, int64_t c, int64_t heads, int depth, int64_t context_dim,
                                       bool linear_proj)
    : norm_(w.norm("norm", c)), proj_in_(projection(w, "proj_in", c, linear_proj)),
      proj_out_(projection(w, "proj_out", c, linear_proj)) {
    for (int d = 0; d < depth; ++d)
        transformer_blocks_.emplace_back(w.sub("transformer_blocks").sub(d), c, context_dim, heads);
}

Tensor SpatialTransformer::forward(const Tensor& x, const Tensor& context, Arena& a) const {
    const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
    // NHWC is already "b (h w) c": the rearrange of the original is free here.
    Tensor h = proj_in_.forward(group_norm(norm_, x, kLdmNormalizeEps, /*silu=*/false, a).reshape({n, hw, c}), a);
    for (const auto& block : transformer_blocks_) h = block.forward(h, context, a);
    Tensor out = proj_out_.forward(h, a).reshape(x.shape());
    add_inplace(out, x);
    return out;
}

}  // namespace difu
