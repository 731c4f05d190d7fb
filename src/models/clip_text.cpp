#include "models/clip_text.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"

namespace difu {

namespace {
constexpr int kQkvParts = 3;

ClipEncoderLayer openclip_layer(const Weights& l, int64_t W, int64_t I) {  // "transformer.resblocks.{i}."
    ClipEncoderLayer layer;
    layer.layer_norm1 = l.norm("ln_1", W);
    layer.layer_norm2 = l.norm("ln_2", W);
    // nn.MultiheadAttention keeps q, k, v stacked already: in_proj_weight [3W, W], in_proj_bias [3W].
    const Tensor& w = l.stored("attn.in_proj_weight", {kQkvParts * W, W});
    layer.qkv_proj = Linear(w, l.f32("attn.in_proj_bias", {kQkvParts * W}), l.precision());
    l.release({&w});
    layer.out_proj = l.linear("attn.out_proj", W, W);
    layer.fc1 = l.linear("mlp.c_fc", I, W);
    layer.fc2 = l.linear("mlp.c_proj", W, I);
    return layer;
}
}  // namespace

ClipTextModel::ClipTextModel(const Checkpoint& ck, const TextConfig& cfg, Precision precision) : cfg_(cfg) {
    const int64_t W = cfg_.width, L = cfg_.context_length;
    const bool hf = cfg_.naming == TextConfig::Naming::HuggingFace;
    Weights w(ck, cfg_.prefix, precision);
    token_embedding_ = w.raw(hf ? "embeddings.token_embedding.weight" : "token_embedding.weight", {cfg_.vocab_size, W});
    if (!is_float(token_embedding_.dtype()))
        throw Error::at(ck.path, "token embedding has dtype {}", dtype_name(token_embedding_.dtype()));
    position_embedding_ = w.f32(hf ? "embeddings.position_embedding.weight" : "positional_embedding", {L, W}).clone();
    const Weights blocks = hf ? w.sub("encoder.layers") : w.sub("transformer.resblocks");
    for (int i = 0; i < cfg_.layers; ++i)
        layers_.push_back(hf ? load_hf_clip_layer(blocks.sub(i), W, cfg_.intermediate)
                             : openclip_layer(blocks.sub(i), W, cfg_.intermediate));
    final_layer_norm_ = w.norm(hf ? "final_layer_norm" : "ln_final", W);
    if (cfg_.pooled_dim > 0) {
        const int64_t P = cfg_.pooled_dim;
        const Tensor projection = w.f32("text_projection", {W, P}).contiguous();
        Tensor as_linear = Tensor::empty({P, W});  // Linear wants [out, in]
        for (int64_t i = 0; i < W; ++i)
            for (int64_t j = 0; j < P; ++j) as_linear.mutable_data<float>()[j * W + i] = projection.data<float>()[i * P + j];
        text_projection_ = Linear(as_linear, Tensor(), precision);
    }
}

// x_0[b, t] = token_embedding[ids[b, t]] + position_embedding[t]
Tensor ClipTextModel::embed(std::span<const int> ids, int64_t batch, std::span<const TokenVectors> fixes) const {
    const int64_t W = cfg_.width, L = cfg_.context_length;
    Tensor x = Tensor::empty({batch, L, W});
    float* xp = x.mutable_data<float>();
    const float* pos = position_embedding_.data<float>();
    for (int64_t i = 0; i < batch * L; ++i) {
        const int id = ids[static_cast<size_t>(i)];
        if (id < 0 || id >= cfg_.vocab_size) throw Error::make("token id {} is outside the vocabulary (0..{})", id, cfg_.vocab_size - 1);
        float* row = xp + i * W;
        const std::byte* src = token_embedding_.raw() + static_cast<size_t>(id) * static_cast<size_t>(W) * dtype_size(token_embedding_.dtype());
        switch (token_embedding_.dtype()) {
            case DType::F32: std::memcpy(row, src, static_cast<size_t>(W) * 4); break;
            case DType::F16: convert_f16_to_f32({reinterpret_cast<const uint16_t*>(src), size_t(W)}, {row, size_t(W)}); break;
            case DType::BF16: convert_bf16_to_f32({reinterpret_cast<const uint16_t*>(src), size_t(W)}, {row, size_t(W)}); break;
            default: throw Error::make("token embedding dtype {} not supported", dtype_name(token_embedding_.dtype()));
        }
    }
    if (!fixes.empty() && batch != 1) throw Error::make("token vectors are placed in one sequence at a time, not {}", batch);
    for (const TokenVectors& f : fixes) {
        const Tensor v = f.vectors.to(DType::F32);
        if (v.ndim() != 2 || v.dim(1) != W)
            throw Error::make("embedding vectors {} do not fit a text encoder of width {}", shape_str(v.shape()), W);
        const int64_t n = std::min(v.dim(0), L - f.position);
        if (f.position < 0 || n < 0) throw Error::make("embedding vectors placed at token {} of {}", f.position, L);
        std::memcpy(xp + f.position * W, v.data<float>(), static_cast<size_t>(n * W) * sizeof(float));
    }
    for (int64_t i = 0; i < batch * L; ++i) {
        const float* p = pos + (i % L) * W;
        float* row = xp + i * W;
        for (int64_t c = 0; c < W; ++c) row[c] += p[c];
    }
    return x;
}

// Pre-LN transformer block with causal self-attention and a quick_gelu (openai) or gelu (OpenCLIP) MLP.
void ClipTextModel::layer_forward(const ClipEncoderLayer& layer, Tensor& x, int64_t batch, Arena& arena) const {
    clip_layer_forward(layer, {batch, cfg_.context_length, cfg_.width, cfg_.heads, cfg_.quick_gelu, /*causal=*/true}, x, arena);
}

// The residual stream after `layers` blocks (not final-normed); every state into *states when given.
Tensor ClipTextModel::run(std::span<const int> ids, int64_t batch, int layers, Arena& arena,
                          std::vector<Tensor>* states, std::span<const TokenVectors> fixes) const {
    if (static_cast<int64_t>(ids.size()) != batch * cfg_.context_length)
        throw Error::make("text encoder expects {} x {} token ids, got {}", batch, cfg_.context_length, ids.size());
    Tensor x = embed(ids, batch, fixes);
    if (states) states->push_back(x.clone());
    const Arena::Mark scratch = arena.mark();
    for (int l = 0; l < layers; ++l) {
        layer_forward(layers_[static_cast<size_t>(l)], x, batch, arena);
        if (states) states->push_back(x.clone());
        arena.rewind(scratch);
    }
    return x;
}

void ClipTextModel::final_norm(float* x, int64_t rows) const {
    layer_norm(x, x, rows, cfg_.width, final_layer_norm_.weight.data<float>(), final_layer_norm_.bias.data<float>());
}

Tensor ClipTextModel::forward(std::span<const int> ids, int64_t batch, int clip_skip, Arena& arena,
                              std::vector<Tensor>* hidden_states, std::span<const TokenVectors> fixes) const {
    const int layer = cfg_.layer_for(clip_skip);
    if (layer < 1 || layer > cfg_.layers)
        throw Error::make("clip skip must be between 1 and {} (the text encoder's layer count), got {}", cfg_.layers, layer);
    // The last layer - 1 blocks are never used.
    Tensor x = run(ids, batch, cfg_.layers + 1 - layer, arena, hidden_states, fixes);
    if (cfg_.final_norm) final_norm(x.mutable_data<float>(), batch * cfg_.context_length);
    return x;
}

TextEncoding ClipTextModel::encode(std::span<const int> ids, int64_t batch, int clip_skip, Arena& arena,
                                   std::span<const TokenVectors> fixes) const {
    if (cfg_.pooled_dim == 0) return {forward(ids, batch, clip_skip, arena, nullptr, fixes), Tensor()};
    const int64_t W = cfg_.width, L = cfg_.context_length;
    const int layer = cfg_.layer_for(clip_skip);
    if (layer < 1 || layer > cfg_.layers)
        throw Error::make("clip skip must be between 1 and {} (the text encoder's layer count), got {}", cfg_.layers, layer);
    std::vector<Tensor> states;
    Tensor last = run(ids, batch, cfg_.layers, arena, &states, fixes);  // every layer, for the pooled output
    TextEncoding out;
    out.hidden = std::move(states.at(static_cast<size_t>(cfg_.layers + 1 - layer)));
    if (cfg_.final_norm) final_norm(out.hidden.mutable_data<float>(), batch * L);
    // The end token's row of ln_final(last layer): open_clip takes argmax(ids), the first 49407.
    Tensor rows = Tensor::empty({batch, W});
    for (int64_t b = 0; b < batch; ++b) {
        const auto seq = ids.subspan(static_cast<size_t>(b * L), static_cast<size_t>(L));
        const int64_t end = std::max_element(seq.begin(), seq.end()) - seq.begin();
        std::memcpy(rows.mutable_data<float>() + b * W, last.data<float>() + (b * L + end) * W,
                    static_cast<size_t>(W) * sizeof(float));
    }
    final_norm(rows.mutable_data<float>(), batch);
    out.pooled = text_projection_.forward(rows, arena).clone();
    return out;
}

}  // namespace difu
