#include "models/weights.h"

namespace difu {

Tensor Weights::f32(const std::string& name, const Shape& shape) const {
    const Tensor& t = raw(name, shape);
    if (!is_float(t.dtype()))
        throw Error::at(ck_->path, "tensor '{}{}' has dtype {}, expected a float type", prefix_, name, dtype_name(t.dtype()));
    return t.dtype() == DType::F32 ? t : t.to(DType::F32);
}

Linear Weights::linear(const std::string& name, int64_t out, int64_t in, bool bias) const {
    Tensor w = f32(name + ".weight", {out, in});
    Tensor b = bias ? f32(name + ".bias", {out}) : Tensor();
    return Linear(w, b, precision_);
}

NormWeights Weights::norm(const std::string& name, int64_t channels) const {
    return {f32(name + ".weight", {channels}).clone(), f32(name + ".bias", {channels}).clone()};
}

}  // namespace difu
