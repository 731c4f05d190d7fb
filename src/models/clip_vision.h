// models/clip_vision.h — HF's CLIPVisionModel with its visual_projection, as the SD safety checker
// holds it ("vision_model.vision_model.*", "visual_projection.weight"):
//   x_0 = [class_embedding; patch_embedding(pixels)] + position_embedding   (patches row-major, conv p x p stride p)
//   x = pre_layrnorm(x_0); x = CLIP layers (no mask, quick_gelu)
//   pooled = post_layernorm(x[:, 0]);  image_embeds = visual_projection(pooled)  (no bias)
// Sizes come from the tensors; the head count from the config.json beside the file (HF layout), else
// width / 64 (every released ViT's head width).
#pragma once
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "models/clip_layer.h"

namespace difu {

struct ClipVisionConfig {
    int64_t width = 0, layers = 0, intermediate = 0, patch = 0, image_size = 0, projection = 0;
    int heads = 0;
    int64_t positions() const { return (image_size / patch) * (image_size / patch) + 1; }
};

struct ClipVisionOutput {
    Tensor last_hidden_state;  // [N, positions, width] (before any final norm)
    Tensor pooled;             // [N, width]
    Tensor image_embeds;       // [N, projection]
};

class ClipVisionModel {
public:
    // tower: the CLIPVisionModel's prefix up to "embeddings." ("vision_model.vision_model." in the
    // checker); projection: the visual_projection Linear's name; heads 0 = see above.
    ClipVisionModel(const Checkpoint& ck, const std::string& tower, const std::string& projection, int heads = 0);
    const ClipVisionConfig& config() const { return cfg_; }
    ClipVisionOutput forward(const Tensor& pixels, Arena& arena) const;  // pixels [N, 3, S, S], normalised

private:
    ClipVisionConfig cfg_;
    Linear patch_embedding_;  // the p x p stride-p conv as a Linear over flattened (c, y, x) patches
    Tensor class_embedding_, position_embedding_;
    NormWeights pre_layrnorm_, post_layernorm_;
    std::vector<ClipEncoderLayer> layers_;
    Linear visual_projection_;
};

}  // namespace difu
