#include "models/weights.h"

namespace difu {

const Tensor& Weights::stored(const std::string& name, const Shape& shape) const {
    const Tensor& t = raw(name, shape);
    if (!is_float(t.dtype()))
        throw Error::at(ck_->path, "tensor '{}{}' has dtype {}, expected a float type", prefix_, name, dtype_name(t.dtype()));
    return t;
}

Tensor Weights::f32(const std::string& name, const Shape& shape) const {
    const Tensor& t = stored(name, shape);
    return t.dtype() == DType::F32 ? t : t.to(DType::F32);
}

void Weights::release(std::initializer_list<const Tensor*> tensors) const {
    if (!ck_->file) return;
    for (const Tensor* t : tensors)
        if (t && t->defined()) ck_->file->release_pages(t->raw(), t->nbytes());
}

Linear Weights::linear(const std::string& name, int64_t out, int64_t in, bool bias) const {
    // Straight from the stored dtype to the compute dtype: no f32 copy of a bf16 layer's weights.
    const Tensor& w = stored(name + ".weight", {out, in});
    const Tensor b = bias ? stored(name + ".bias", {out}) : Tensor();
    Linear l(w, b, precision_);
    release({&w, &b});
    return l;
}

NormWeights Weights::norm(const std::string& name, int64_t channels) const {
    return {f32(name + ".weight", {channels}).clone(), f32(name + ".bias", {channels}).clone()};
}

}  // namespace difu
