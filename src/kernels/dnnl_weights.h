// kernels/dnnl_weights.h — what Conv2d and Linear share on top of oneDNN:
//   PackedWeights: a layer's weights, reordered into each layout a primitive asks for exactly once
//                  (normally one layout), the plain copy released after the first reorder;
//   InputCast:     the activations a primitive reads — the caller's f32 buffer itself, or in bf16
//                  mode a bf16 copy made by a cached reorder.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"

namespace difu {

class PackedWeights {
public:
    PackedWeights() = default;
    // `plain` holds the weights in the compute dtype, laid out as `plain_desc` says.
    PackedWeights(Tensor plain, dnnl::memory::desc plain_desc) : plain_(std::move(plain)), plain_desc_(plain_desc) {}

    // The weights in layout `wanted`. Not thread-safe: callers hold their plan lock.
    std::shared_ptr<dnnl::memory> in_layout(const dnnl::memory::desc& wanted);

private:
    Tensor plain_;
    dnnl::memory::desc plain_desc_;
    std::vector<std::shared_ptr<dnnl::memory>> layouts_;
};

class InputCast {
public:
    InputCast() = default;
    // f32: the caller's layout; compute: what the primitive reads (the same desc in fp32 mode).
    InputCast(const dnnl::memory::desc& f32, const dnnl::memory::desc& compute);
    // The primitive's source memory for the caller's buffer x (a per-thread bf16 copy in bf16 mode).
    dnnl::memory source(const float* x) const;

private:
    dnnl::memory::desc f32_, compute_;
    std::optional<dnnl::reorder> reorder_;
};

}  // namespace difu
