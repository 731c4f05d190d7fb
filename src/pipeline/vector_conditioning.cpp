#include "pipeline/vector_conditioning.h"

#include <cstring>
#include <vector>

#include "models/unet/timestep_embedding.h"

namespace difu {

Tensor vector_conditioning(VectorConditioning kind, const Tensor& pooled, const SizeConditioning& s, int width,
                           int height, bool negative) {
    if (kind == VectorConditioning::None) return Tensor();
    if (!pooled.defined() || pooled.ndim() != 2 || pooled.dim(0) != 1)
        throw Error::make("vector conditioning needs a pooled text embedding [1, dim]");
    const auto or_image = [](int v, int image) { return static_cast<float>(v > 0 ? v : image); };
    // (height, width) pairs, as sgm.inference.helpers.get_batch builds them.
    std::vector<float> values{or_image(s.original_height, height), or_image(s.original_width, width),
                              static_cast<float>(s.crop_top), static_cast<float>(s.crop_left)};
    if (kind == VectorConditioning::PooledAndSizes) {
        values.push_back(or_image(s.target_height, height));
        values.push_back(or_image(s.target_width, width));
    } else {
        values.push_back(negative ? s.negative_aesthetic_score : s.aesthetic_score);
    }
    const Tensor features = timestep_embedding(values, kSizeEmbeddingDim);  // [values, 256], cos first
    const int64_t p = pooled.dim(1), n = p + features.numel();
    Tensor y = Tensor::empty({1, n});
    std::memcpy(y.mutable_data<float>(), pooled.contiguous().data<float>(), static_cast<size_t>(p) * sizeof(float));
    std::memcpy(y.mutable_data<float>() + p, features.contiguous().data<float>(),
                static_cast<size_t>(features.numel()) * sizeof(float));
    return y;
}

}  // namespace difu
