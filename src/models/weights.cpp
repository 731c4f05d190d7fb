#include "models/weights.h"

#include <cstring>

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

Linear Weights::linear_stacked(std::initializer_list<const char*> names, int64_t out, int64_t in, bool bias) const {
    const DType dtype = precision_ == Precision::BF16 ? DType::BF16 : DType::F32;
    const int64_t parts = static_cast<int64_t>(names.size());
    Tensor weight = Tensor::empty({parts * out, in}, dtype);
    Tensor biases = bias ? Tensor::empty({parts * out}) : Tensor();
    int64_t row = 0;
    for (const char* name : names) {
        const Tensor& w = stored(std::string(name) + ".weight", {out, in});
        Tensor converted = w.to(dtype);
        std::memcpy(weight.storage()->data() + weight.byte_offset() + row * in * dtype_size(dtype), converted.raw(),
                    converted.nbytes());
        release({&w});
        if (bias) {
            Tensor b = f32(std::string(name) + ".bias", {out});
            std::memcpy(biases.mutable_data<float>() + row, b.data<float>(), static_cast<size_t>(out) * sizeof(float));
        }
        row += out;
    }
    return Linear(weight, biases, precision_);
}

NormWeights Weights::norm(const std::string& name, int64_t channels) const {
    return {f32(name + ".weight", {channels}).clone(), f32(name + ".bias", {channels}).clone()};
}

}  // namespace difu
