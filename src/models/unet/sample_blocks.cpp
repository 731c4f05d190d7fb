#include "models/unet/sample_blocks.h"

namespace difu {

Downsample::Downsample(const Weights& w, int64_t c) : op_(conv(w, "op", c, c, 3, {2, {1, 1, 1, 1}})) {}

Upsample::Upsample(const Weights& w, int64_t c) : conv_(conv(w, "conv", c, c, 3, ConvGeometry::same(3))) {}

}  // namespace difu
