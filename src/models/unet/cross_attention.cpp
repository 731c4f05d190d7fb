#include "models/unet/cross_attention.h"

#include <cmath>

#include "kernels/attention.h"

namespace difu {

CrossAttention::CrossAttention(const Weights& w, int64_t query_dim, int64_t context_dim, int64_t heads, AttentionKind kind)
    : heads_(heads),
      inner_(query_dim),  // heads * dim_head == query_dim in every SD UNet
      to_out_0_(w.linear("to_out.0", query_dim, query_dim)),
      kind_(kind) {
    DIFU_CHECK(heads > 0 && query_dim % heads == 0, "{} channels do not split into {} heads", query_dim, heads);
    if (kind == AttentionKind::Self) {
        DIFU_CHECK(context_dim == query_dim, "self-attention with a context of another width");
        to_qkv_ = w.linear_stacked({"to_q", "to_k", "to_v"}, inner_, query_dim, /*bias=*/false);
    } else {
        to_q_ = w.linear("to_q", query_dim, query_dim, /*bias=*/false);
        to_k_ = w.linear("to_k", query_dim, context_dim, false);
        to_v_ = w.linear("to_v", query_dim, context_dim, false);
    }
}

Tensor CrossAttention::attend(const float* q, const float* k, const float* v, int64_t batch, int64_t q_len,
                              int64_t kv_len, int64_t q_stride, int64_t kv_stride, Arena& a) const {
    AttentionShape s;
    s.batch = batch;
    s.heads = heads_;
    s.q_len = q_len;
    s.kv_len = kv_len;
    s.head_dim = inner_ / heads_;
    s.q_stride = q_stride;
    s.k_stride = s.v_stride = kv_stride;
    s.out_stride = inner_;
    Tensor o = a.alloc({batch, q_len, inner_});
    attention(q, k, v, o.mutable_data<float>(), s, 1.0f / std::sqrt(static_cast<float>(s.head_dim)),
              to_out_0_.precision());
    return to_out_0_.forward(o, a);
}

Tensor CrossAttention::forward(const Tensor& x, const Tensor& context, Arena& a) const {
    const int64_t n = x.dim(0), len = x.dim(1);
    if (kind_ == AttentionKind::Self) {  // one [rows, 3 inner] product; q, k, v are column slices of it
        Tensor qkv = to_qkv_.forward(x, a);
        const float* p = qkv.data<float>();
        return attend(p, p + inner_, p + 2 * inner_, n, len, len, 3 * inner_, 3 * inner_, a);
    }
    Tensor q = to_q_.forward(x, a), k = to_k_.forward(context, a), v = to_v_.forward(context, a);
    return attend(q.data<float>(), k.data<float>(), v.data<float>(), n, len, context.dim(1), inner_, inner_, a);
}

}  // namespace difu
