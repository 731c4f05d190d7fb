#include "models/clip_layer.h"

#include <cmath>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"
#include "models/layers.h"

namespace difu {

namespace {
constexpr int kQkvParts = 3;
}

ClipEncoderLayer load_hf_clip_layer(const Weights& l, int64_t W, int64_t I) {
    ClipEncoderLayer layer;
    layer.layer_norm1 = l.norm("layer_norm1", W);
    layer.layer_norm2 = l.norm("layer_norm2", W);
    layer.qkv_proj = l.sub("self_attn").linear_stacked({"q_proj", "k_proj", "v_proj"}, W, W, /*bias=*/true);
    layer.out_proj = l.linear("self_attn.out_proj", W, W);
    layer.fc1 = l.linear("mlp.fc1", I, W);
    layer.fc2 = l.linear("mlp.fc2", W, I);
    return layer;
}

void clip_layer_forward(const ClipEncoderLayer& layer, const ClipLayerShape& sh, Tensor& x, Arena& arena) {
    const int64_t W = sh.width, rows = sh.batch * sh.length;
    float* xp = x.mutable_data<float>();
    Tensor h = arena.alloc({rows, W});
    layer_norm(xp, h.mutable_data<float>(), rows, W, layer.layer_norm1.weight.data<float>(), layer.layer_norm1.bias.data<float>());
    Tensor qkv = layer.qkv_proj.forward(h, arena);  // [rows, 3W]: q, k, v are column slices
    const float* q = qkv.data<float>();
    AttentionShape s;
    s.batch = sh.batch;
    s.heads = sh.heads;
    s.q_len = s.kv_len = sh.length;
    s.head_dim = W / sh.heads;
    s.q_stride = s.k_stride = s.v_stride = kQkvParts * W;
    s.out_stride = W;
    s.causal = sh.causal;
    Tensor a = arena.alloc({rows, W});
    attention(q, q + W, q + 2 * W, a.mutable_data<float>(), s, 1.0f / std::sqrt(static_cast<float>(s.head_dim)));
    Tensor o = layer.out_proj.forward(a, arena);
    add_inplace(xp, o.data<float>(), rows * W);

    layer_norm(xp, h.mutable_data<float>(), rows, W, layer.layer_norm2.weight.data<float>(), layer.layer_norm2.bias.data<float>());
    Tensor f = layer.fc1.forward(h, arena);
    if (sh.quick_gelu) quick_gelu(f.mutable_data<float>(), f.numel());
    else gelu(f.mutable_data<float>(), f.numel());
    Tensor m = layer.fc2.forward(f, arena);
    add_inplace(xp, m.data<float>(), rows * W);
}

}  // namespace difu
