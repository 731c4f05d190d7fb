// models/clip_layer.h — one pre-LN CLIP transformer block, shared by the text towers (models/clip_text)
// and the vision tower of the safety checker (models/clip_vision):
//   x = x + out_proj(attn(LN1(x)));  x = x + fc2(act(fc1(LN2(x))))      act = quick_gelu | gelu
#pragma once
#include "core/arena.h"
#include "models/weights.h"

namespace difu {

struct ClipEncoderLayer {  // "encoder.layers.{i}." | "transformer.resblocks.{i}."
    NormWeights layer_norm1, layer_norm2;
    Linear qkv_proj;  // [q; k; v] stacked: HF's q_proj, k_proj, v_proj; OpenCLIP's in_proj as stored
    Linear out_proj;
    Linear fc1, fc2;
};

ClipEncoderLayer load_hf_clip_layer(const Weights& l, int64_t width, int64_t intermediate);  // HF names

struct ClipLayerShape {
    int64_t batch = 1, length = 1, width = 1;
    int heads = 1;
    bool quick_gelu = true;
    bool causal = false;  // the text towers' mask
};
// x [batch · length, width] (f32, contiguous) is updated in place; temporaries come from `arena`.
void clip_layer_forward(const ClipEncoderLayer& layer, const ClipLayerShape& s, Tensor& x, Arena& arena);

}  // namespace difu
