// kernels/dnnl_weights.h — what Conv2d and Linear share on top of oneDNN:
//   PackedWeights: a layer's weights, reordered at load into the layout its primitive wants (and
//                  into another only if a shape asks for one), with no plain copy kept;
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
    // `stored` (any float dtype, as in the checkpoint) converted to the dtype of `plain` (the layer's
    // weight in the compute dtype, laid out as stored) and reordered into `first`, the layout the
    // layer's primitive wants for a typical shape. The plain copy lives in a reused scratch buffer, so
    // a load touches fresh memory once per weight (fresh pages are what a load spends its time on).
    PackedWeights(const Tensor& stored, const dnnl::memory::desc& plain, const dnnl::memory::desc& first);

    // The weights in layout `wanted` (reordered from the first layout the first time another shape
    // asks for it). Not thread-safe: callers hold their plan lock.
    std::shared_ptr<dnnl::memory> in_layout(const dnnl::memory::desc& wanted);

    // Frees the calling thread's conversion scratch (the largest weight converted so far); models
    // call it once built.
    static void release_scratch();

private:
    std::shared_ptr<dnnl::memory> reorder_into(const dnnl::memory& source, const dnnl::memory::desc& wanted);
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
