#include "models/text_encoders.h"

namespace difu {

TextEncoders::TextEncoders(const Checkpoint& ck, const ModelConfig& cfg, Precision precision) {
    for (const TextConfig& t : cfg.text_encoders) {
        models_.push_back(std::make_unique<ClipTextModel>(ck, t, precision));
        views_.push_back(models_.back().get());
    }
}

}  // namespace difu
