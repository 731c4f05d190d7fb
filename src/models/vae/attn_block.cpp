#include "models/vae/attn_block.h"

#include <cmath>

#include "kernels/attention.h"
#include "kernels/group_norm.h"

namespace difu {

VaeAttnBlock::VaeAttnBlock(const Weights& w, int64_t c)
    : norm_(w.norm("norm", c)), q_(conv1x1_as_linear(w, "q", c, c)), k_(conv1x1_as_linear(w, "k", c, c)),
      v_(conv1x1_as_linear(w, "v", c, c)), proj_out_(conv1x1_as_linear(w, "proj_out", c, c)) {}

Tensor VaeAttnBlock::forward(const Tensor& x, Arena& a) const {
    const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
    Tensor h = group_norm(norm_, x, kLdmNormalizeEps, /*silu=*/false, a).reshape({n, hw, c});
    Tensor q = q_.forward(h, a), k = k_.forward(h, a), v = v_.forward(h, a);
    AttentionShape s;
    s.batch = n;
    s.heads = 1;
    s.q_len = s.kv_len = hw;
    s.head_dim = c;
    s.q_stride = s.k_stride = s.v_stride = s.out_stride = c;
    Tensor o = a.alloc({n, hw, c});
    attention(q.data<float>(), k.data<float>(), v.data<float>(), o.mutable_data<float>(), s,
              1.0f / std::sqrt(static_cast<float>(c)), proj_out_.precision());
    Tensor out = proj_out_.forward(o, a).reshape(x.shape());
    add_inplace(out, x);
    return out;
}

}  // namespace difu
