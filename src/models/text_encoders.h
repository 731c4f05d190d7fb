// models/text_encoders.h — every text encoder of a checkpoint (SD 1.x / 2.x: one; SDXL: CLIP ViT-L and
// OpenCLIP bigG), built together, in the order the conditioner concatenates their outputs.
#pragma once
#include <memory>
#include <span>
#include <vector>

#include "models/clip_text.h"

namespace difu {

class TextEncoders {
public:
    TextEncoders(const Checkpoint& ck, const ModelConfig& cfg, Precision precision = Precision::FP32);
    std::span<const ClipTextModel* const> all() const { return views_; }

private:
    std::vector<std::unique_ptr<ClipTextModel>> models_;
    std::vector<const ClipTextModel*> views_;
};

}  // namespace difu
