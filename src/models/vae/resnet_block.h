// models/vae/resnet_block.h — ldm model.ResnetBlock without time embedding ("encoder.down.0.block.1"):
//   h = conv2(SiLU(norm2(conv1(SiLU(norm1(x))))));  out = shortcut(x) + h
// shortcut = nin_shortcut (1x1 conv) when the channel count changes.
#pragma once
#include <optional>

#include "models/layers.h"

namespace difu {

class VaeResnetBlock {
public:
    VaeResnetBlock(const Weights& w, int64_t in_channels, int64_t out_channels);
    Tensor forward(const Tensor& x, Arena& a) const;  // NHWC

private:
    NormWeights norm1_, norm2_;
    Conv2d conv1_, conv2_;
    std::optional<Conv2d> nin_shortcut_;
};

}  // namespace difu
