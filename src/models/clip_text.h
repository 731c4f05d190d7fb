// models/clip_text.h — the CLIP text transformer of SD 1.x (openai ViT-L/14 text tower, HF names
// under "cond_stage_model.transformer.text_model."):
//   x_0 = token_embedding[ids] + position_embedding
//   x_l = x_{l-1} + out_proj(attn_causal(LN1(x_{l-1})));  x_l = x_l + fc2(quick_gelu(fc1(LN2(x_l))))
//   context = final_layer_norm(x_{L + 1 - clip_skip})   (clip_skip 1 = last layer, 2 = penultimate, as webui)
#pragma once
#include <span>
#include <vector>

#include "core/arena.h"
#include "io/model_config.h"
#include "models/weights.h"

namespace difu {

struct ClipEncoderLayer {  // "encoder.layers.{i}."
    NormWeights layer_norm1, layer_norm2;
    Linear q_proj, k_proj, v_proj, out_proj;  // "self_attn.*"
    Linear fc1, fc2;                          // "mlp.*"
};

class ClipTextModel {
public:
    ClipTextModel(const Checkpoint& ck, const ModelConfig& cfg, Precision precision = Precision::FP32);

    const TextConfig& config() const { return cfg_; }

    // ids: batch x context_length token ids. Returns [batch, context_length, width] (a fresh tensor).
    // `hidden_states`, when given, receives the residual stream before the final norm: [0] = the
    // embeddings, [l] = after layer l (only the layers that were computed).
    Tensor forward(std::span<const int> ids, int64_t batch, int clip_skip, Arena& arena,
                   std::vector<Tensor>* hidden_states = nullptr) const;

private:
    Tensor embed(std::span<const int> ids, int64_t batch) const;
    void layer_forward(const ClipEncoderLayer& layer, Tensor& x, int64_t batch, Arena& arena) const;

    TextConfig cfg_;
    Tensor token_embedding_;     // [vocab, width], stored dtype (a view into the file when possible)
    Tensor position_embedding_;  // [context_length, width] f32
    std::vector<ClipEncoderLayer> layers_;
    NormWeights final_layer_norm_;
};

}  // namespace difu
