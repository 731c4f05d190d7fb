// models/unet/spatial_transformer.h — ldm attention.SpatialTransformer ("input_blocks.1.1", ...):
//   h = proj_in(GN(x)) as tokens [N, HW, C];  h = blocks(h, context);  out = proj_out(h) + x
// proj_in / proj_out are 1x1 convs in SD 1.x and linears in SD 2.x / SDXL: over NHWC both are the
// same linear map over channels.
#pragma once
#include <vector>

#include "models/unet/basic_transformer_block.h"

namespace difu {

class SpatialTransformer {
public:
    SpatialTransformer(const Weights& w, int64_t channels, int64_t heads, int depth, int64_t context_dim,
                       bool linear_proj);
    Tensor forward(const Tensor& x, const Tensor& context, Arena& a) const;  // x [N, H, W, C]

private:
    NormWeights norm_;
    Linear proj_in_, proj_out_;
    std::vector<BasicTransformerBlock> transformer_blocks_;
};

}  // namespace difu
