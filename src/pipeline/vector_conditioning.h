// pipeline/vector_conditioning.h — SDXL's vector conditioning y, sgm's GeneralConditioner after the text
// embedders (ConcatTimestepEmbedderND, outdim 256, each value embedded on its own):
//   y = pooled ⊕ emb(original h) ⊕ emb(original w) ⊕ emb(crop top) ⊕ emb(crop left) ⊕ emb(target h) ⊕ emb(target w)
//   emb(v) = [cos(v f_i), sin(v f_i)],  f_i = exp(-ln(10000) i / 128),  i = 0..127
// The SDXL refiner's: y = pooled ⊕ emb(original h) ⊕ emb(original w) ⊕ emb(crop top) ⊕ emb(crop left) ⊕
// emb(aesthetic score).
// Defaults as webui's: original = target = the image size, crop (0, 0), aesthetic score 6 for the prompt
// and 2.5 for the negative prompt (sdxl_refiner_high / low_aesthetic_score).
#pragma once
#include "core/tensor.h"
#include "io/model_family.h"

namespace difu {

struct SizeConditioning {
    int original_width = 0, original_height = 0;  // 0: the image's
    int crop_left = 0, crop_top = 0;
    int target_width = 0, target_height = 0;      // 0: the image's
    float aesthetic_score = 6.0f, negative_aesthetic_score = 2.5f;  // refiner only
};

// y [1, pooled_dim + 6 * 256] for an image of width x height; `pooled` [1, pooled_dim].
// `negative`: the unconditional side (the refiner's lower aesthetic score).
Tensor vector_conditioning(VectorConditioning kind, const Tensor& pooled, const SizeConditioning& sizes, int width,
                           int height, bool negative = false);

}  // namespace difu
