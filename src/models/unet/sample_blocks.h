// models/unet/sample_blocks.h — openaimodel.Downsample ("input_blocks.3.0": op = 3x3 conv, stride 2,
// padding 1) and Upsample ("output_blocks.2.1": nearest 2x, then conv = 3x3 conv, padding 1).
#pragma once
#include "models/layers.h"

namespace difu {

class Downsample {
public:
    Downsample(const Weights& w, int64_t channels);
    Tensor forward(const Tensor& x, Arena& a) const { return op_.forward(x, a); }

private:
    Conv2d op_;
};

class Upsample {
public:
    Upsample(const Weights& w, int64_t channels);
    Tensor forward(const Tensor& x, Arena& a) const { return conv_.forward(upsample_nearest2x(x, a), a); }

private:
    Conv2d conv_;
};

}  // namespace difu
