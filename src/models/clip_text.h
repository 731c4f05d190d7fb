// models/clip_text.h — the CLIP text transformer: SD 1.x's openai ViT-L/14 text tower (HF names under
// "cond_stage_model.transformer.text_model.") and SD 2.x's OpenCLIP ViT-H/14 (open_clip names under
// "cond_stage_model.model."): the same pre-LN transformer under two namings.
//   x_0 = token_embedding[ids] + position_embedding
//   x_l = x_{l-1} + out_proj(attn_causal(LN1(x_{l-1})));  x_l = x_l + fc2(act(fc1(LN2(x_l))))
//   context = final_layer_norm(x_{L + 1 - layer})   (layer 1 = last, 2 = penultimate; act = quick_gelu | gelu)
// HF                           OpenCLIP
// embeddings.token_embedding   token_embedding                 encoder.layers.{i}   transformer.resblocks.{i}
// embeddings.position_embedding positional_embedding           layer_norm1/2        ln_1/2
// self_attn.{q,k,v}_proj       attn.in_proj_{weight,bias}      mlp.fc1/fc2          mlp.c_fc/c_proj
// self_attn.out_proj           attn.out_proj                   final_layer_norm     ln_final
#pragma once
#include <span>
#include <vector>

#include "core/arena.h"
#include "io/model_config.h"
#include "models/clip_layer.h"
#include "models/weights.h"

namespace difu {

// The hidden state the config selects, and (encoders with pooled_dim > 0) the pooled output:
// pooled = ln_final(x_L)[end token] @ text_projection   (open_clip's CLIP.encode_text; [batch, pooled_dim])
struct TextEncoding {
    Tensor hidden, pooled;
};

// Token positions whose embedding rows are replaced by given vectors (a textual-inversion embedding, as
// webui's EmbeddingsWithFixes does after the token lookup, before the position embedding is added):
// rows [position, position + n) of a batch-1 sequence get vectors [n, width] (cut at the sequence's end).
struct TokenVectors {
    int64_t position = 0;
    Tensor vectors;
};

class ClipTextModel {
public:
    ClipTextModel(const Checkpoint& ck, const TextConfig& cfg, Precision precision = Precision::FP32);

    const TextConfig& config() const { return cfg_; }

    // ids: batch x context_length token ids. Returns [batch, context_length, width] (a fresh tensor):
    // the hidden state config().layer_for(clip_skip) from the end, final-normed when the config says so.
    // `hidden_states`, when given, receives the residual stream before the final norm: [0] = the
    // embeddings, [l] = after layer l (only the layers that were computed).
    Tensor forward(std::span<const int> ids, int64_t batch, int clip_skip, Arena& arena,
                   std::vector<Tensor>* hidden_states = nullptr, std::span<const TokenVectors> fixes = {}) const;
    // forward() and the pooled output (which needs every layer, whatever the hidden state used).
    TextEncoding encode(std::span<const int> ids, int64_t batch, int clip_skip, Arena& arena,
                        std::span<const TokenVectors> fixes = {}) const;

private:
    Tensor embed(std::span<const int> ids, int64_t batch, std::span<const TokenVectors> fixes) const;
    Tensor run(std::span<const int> ids, int64_t batch, int layers, Arena& arena, std::vector<Tensor>* states,
               std::span<const TokenVectors> fixes) const;
    void final_norm(float* x, int64_t rows) const;  // in place, rows of width
    void layer_forward(const ClipEncoderLayer& layer, Tensor& x, int64_t batch, Arena& arena) const;

    TextConfig cfg_;
    Tensor token_embedding_;     // [vocab, width], stored dtype (a view into the file when possible)
    Tensor position_embedding_;  // [context_length, width] f32
    std::vector<ClipEncoderLayer> layers_;
    NormWeights final_layer_norm_;
    Linear text_projection_;  // [width, pooled_dim] stored, used as x W (held transposed, [pooled_dim, width])
};

}  // namespace difu
