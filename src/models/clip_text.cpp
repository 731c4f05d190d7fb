#include "models/clip_text.h"

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"

namespace difu {

ClipTextModel::ClipTextModel(const Checkpoint& ck, const ModelConfig& cfg, Precision precision) : cfg_(cfg.text) {
    if (cfg_.naming != TextConfig::Naming::HuggingFace)
        throw Error::at(ck.path, "OpenCLIP text encoders (SD 2.x) are not supported yet");
    const int64_t W = cfg_.width, L = cfg_.context_length;
    Weights w(ck, cfg.text_prefix, precision);
    token_embedding_ = w.raw("embeddings.token_embedding.weight", {cfg_.vocab_size, W});
    if (!is_float(token_embedding_.dtype()))
        throw Error::at(ck.path, "token embedding has dtype {}", dtype_name(token_embedding_.dtype()));
    position_embedding_ = w.f32("embeddings.position_embedding.weight", {L, W}).clone();
    for (int i = 0; i < cfg_.layers; ++i) {
        Weights l = w.sub("encoder.layers").sub(i);
        ClipEncoderLayer layer;
        layer.layer_norm1 = l.norm("layer_norm1", W);
        layer.layer_norm2 = l.norm("layer_norm2", W);
        layer.q_proj = l.linear("self_attn.q_proj", W, W);
        layer.k_proj = l.linear("self_attn.k_proj", W, W);
        layer.v_proj = l.linear("self_attn.v_proj", W, W);
        layer.out_proj = l.linear("self_attn.out_proj", W, W);
        layer.fc1 = l.linear("mlp.fc1", cfg_.intermediate, W);
        layer.fc2 = l.linear("mlp.fc2", W, cfg_.intermediate);
        layers_.push_back(std::move(layer));
    }
    final_layer_norm_ = w.norm("final_layer_norm", W);
}

// x_0[b, t] = token_embedding[ids[b, t]] + position_embedding[t]
Tensor ClipTextModel::embed(std::span<const int> ids, int64_t batch) const {
    const int64_t W = cfg_.width, L = cfg_.context_length;
    Tensor x = Tensor::empty({batch, L, W});
    float* xp = x.mutable_data<float>();
    const float* pos = position_embedding_.data<float>();
    for (int64_t i = 0; i < batch * L; ++i) {
        const int id = ids[static_cast<size_t>(i)];
        if (id < 0 || id >= cfg_.vocab_size) throw Error::make("token id {} is outside the vocabulary (0..{})", id, cfg_.vocab_size - 1);
        float* row = xp + i * W;
        const std::byte* src = token_embedding_.raw() + static_cast<size_t>(id * W) * dtype_size(token_embedding_.dtype());
        switch (token_embedding_.dtype()) {
            case DType::F32: std::memcpy(row, src, static_cast<size_t>(W) * 4); break;
            case DType::F16: convert_f16_to_f32({reinterpret_cast<const uint16_t*>(src), size_t(W)}, {row, size_t(W)}); break;
            case DType::BF16: convert_bf16_to_f32({reinterpret_cast<const uint16_t*>(src), size_t(W)}, {row, size_t(W)}); break;
            default: throw Error::make("token embedding dtype {} not supported", dtype_name(token_embedding_.dtype()));
        }
        const float* p = pos + (i % L) * W;
        for (int64_t c = 0; c < W; ++c) row[c] += p[c];
    }
    return x;
}

// Pre-LN transformer block with causal self-attention and a quick_gelu MLP.
void ClipTextModel::layer_forward(const ClipEncoderLayer& layer, Tensor& x, int64_t batch, Arena& arena) const {
    const int64_t W = cfg_.width, L = cfg_.context_length, rows = batch * L;
    float* xp = x.mutable_data<float>();
    Tensor h = arena.alloc({rows, W});
    layer_norm(xp, h.mutable_data<float>(), rows, W, layer.layer_norm1.weight.data<float>(),
               layer.layer_norm1.bias.data<float>());
    Tensor q = layer.q_proj.forward(h, arena), k = layer.k_proj.forward(h, arena), v = layer.v_proj.forward(h, arena);
    AttentionShape s;
    s.batch = batch;
    s.heads = cfg_.heads;
    s.q_len = s.kv_len = L;
    s.head_dim = W / cfg_.heads;
    s.q_stride = s.k_stride = s.v_stride = s.out_stride = W;
    s.causal = true;
    Tensor a = arena.alloc({rows, W});
    attention(q.data<float>(), k.data<float>(), v.data<float>(), a.mutable_data<float>(), s,
              1.0f / std::sqrt(static_cast<float>(s.head_dim)));
    Tensor o = layer.out_proj.forward(a, arena);
    add_inplace(xp, o.data<float>(), rows * W);

    layer_norm(xp, h.mutable_data<float>(), rows, W, layer.layer_norm2.weight.data<float>(),
               layer.layer_norm2.bias.data<float>());
    Tensor f = layer.fc1.forward(h, arena);
    if (cfg_.quick_gelu) quick_gelu(f.mutable_data<float>(), f.numel());
    else gelu(f.mutable_data<float>(), f.numel());
    Tensor m = layer.fc2.forward(f, arena);
    add_inplace(xp, m.data<float>(), rows * W);
}

Tensor ClipTextModel::forward(std::span<const int> ids, int64_t batch, int clip_skip, Arena& arena,
                              std::vector<Tensor>* hidden_states) const {
    const int64_t W = cfg_.width, L = cfg_.context_length;
    if (static_cast<int64_t>(ids.size()) != batch * L)
        throw Error::make("text encoder expects {} x {} token ids, got {}", batch, L, ids.size());
    if (clip_skip < 1 || clip_skip > cfg_.layers)
        throw Error::make("clip skip must be between 1 and {} (the text encoder's layer count), got {}", cfg_.layers, clip_skip);
    Tensor x = embed(ids, batch);
    if (hidden_states) hidden_states->push_back(x.clone());
    const int run_layers = cfg_.layers + 1 - clip_skip;  // the last clip_skip - 1 layers are never used
    const Arena::Mark scratch = arena.mark();
    for (int l = 0; l < run_layers; ++l) {
        layer_forward(layers_[static_cast<size_t>(l)], x, batch, arena);
        if (hidden_states) hidden_states->push_back(x.clone());
        arena.rewind(scratch);
    }
    float* xp = x.mutable_data<float>();
    layer_norm(xp, xp, batch * L, W, final_layer_norm_.weight.data<float>(), final_layer_norm_.bias.data<float>());
    return x;
}

}  // namespace difu
