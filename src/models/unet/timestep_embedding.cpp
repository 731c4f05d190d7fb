#include "models/unet/timestep_embedding.h"

#include <cmath>

namespace difu {

Tensor timestep_embedding(std::span<const float> timesteps, int64_t dim) {
    const int64_t n = static_cast<int64_t>(timesteps.size()), half = dim / 2;
    Tensor emb = Tensor::empty({n, dim});  // odd dim: the last channel stays zero, as the original pads
    float* e = emb.mutable_data<float>();
    for (int64_t i = 0; i < half; ++i) {
        // The original computes freqs and args in fp32: exp(-log(max_period) * arange(half) / half).
        const float freq = std::exp(-static_cast<float>(std::log(kTimestepMaxPeriod)) * static_cast<float>(i) /
                                    static_cast<float>(half));
        for (int64_t s = 0; s < n; ++s) {
            const float arg = timesteps[static_cast<size_t>(s)] * freq;
            e[s * dim + i] = std::cos(arg);
            e[s * dim + half + i] = std::sin(arg);
        }
    }
    return emb;
}

}  // namespace difu
