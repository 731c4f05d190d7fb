// models/weights.h — looks weights up by their checkpoint names, once, at load: a prefix
// ("cond_stage_model.transformer.text_model.") plus the module path, with the expected shape checked
// and the file and tensor named when it does not fit.
#pragma once
#include <initializer_list>
#include <string>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "kernels/linear.h"

namespace difu {

// torch.nn.LayerNorm / GroupNorm parameters, converted to f32.
struct NormWeights {
    Tensor weight, bias;  // [channels]
    int64_t channels() const { return weight.numel(); }
};

class Weights {
public:
    // `precision` is what the convs and linears built from these weights compute in.
    Weights(const Checkpoint& ck, std::string prefix, Precision precision = Precision::FP32)
        : ck_(&ck), prefix_(std::move(prefix)), precision_(precision) {}

    // A child scope: Weights(ck, "a.").sub("b") looks up "a.b.*".
    Weights sub(const std::string& name) const { return Weights(*ck_, prefix_ + name + ".", precision_); }
    Precision precision() const { return precision_; }
    Weights sub(int index) const { return sub(std::to_string(index)); }
    const std::string& prefix() const { return prefix_; }

    // The stored tensor (any dtype, possibly a view into the mapped file).
    const Tensor& raw(const std::string& name, const Shape& shape) const { return ck_->get(prefix_ + name, shape); }
    bool has(const std::string& name) const { return ck_->has(prefix_ + name); }
    Tensor f32(const std::string& name, const Shape& shape) const;  // converted copy (or the view if already f32)
    // The stored tensor, checked to be a float type, for layers that convert it themselves.
    const Tensor& stored(const std::string& name, const Shape& shape) const;
    // Done with these stored tensors (their converted copies exist): drop their file pages from RSS.
    void release(std::initializer_list<const Tensor*> tensors) const;

    Linear linear(const std::string& name, int64_t out, int64_t in, bool bias = true) const;
    // Several [out, in] projections of the same input stacked into one [parts * out, in] Linear
    // ("to_q", "to_k", "to_v" -> one product whose column slices are q, k and v). Stacked in the compute
    // dtype, so a bf16 model never holds them in f32.
    Linear linear_stacked(std::initializer_list<const char*> names, int64_t out, int64_t in, bool bias) const;
    NormWeights norm(const std::string& name, int64_t channels) const;

private:
    const Checkpoint* ck_;
    std::string prefix_;
    Precision precision_;
};

}  // namespace difu
