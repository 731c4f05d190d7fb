#include "models/unet/cross_attention.h"

#include <cmath>

#include "kernels/attention.h"

namespace difu {

CrossAttention::CrossAttention(const Weights& w, int64_t query_dim, int64_t context_dim, int64_t heads)
    : heads_(heads),
      inner_(query_dim),  // heads * dim_head == query_dim in every SD UNet
      to_q_(w.linear("to_q", query_dim, query_dim, /*bias=*/false)),
      to_k_(w.linear("to_k", query_dim, context_dim, false)),
      to_v_(w.linear("to_v", query_dim, context_dim, false)),
      to_out_0_(w.linear("to_out.0", query_dim, query_dim)) {
    DIFU_CHECK(heads > 0 && query_dim % heads == 0, "{} channels do not split into {} heads", query_dim, heads);
}

Tensor CrossAttention::forward(const Tensor& x, const Tensor& context, Arena& a) const {
    Tensor q = to_q_.forward(x, a), k = to_k_.forward(context, a), v = to_v_.forward(context, a);
    AttentionShape s;
    s.batch = x.dim(0);
    s.heads = heads_;
    s.q_len = x.dim(1);
    s.kv_len = context.dim(1);
    s.head_dim = inner_ / heads_;
    s.q_stride = s.k_stride = s.v_stride = s.out_stride = inner_;
    Tensor o = a.alloc(q.shape());
    attention(q.data<float>(), k.data<float>(), v.data<float>(), o.mutable_data<float>(), s,
              1.0f / std::sqrt(static_cast<float>(s.head_dim)));
    return to_out_0_.forward(o, a);
}

}  // namespace difu
