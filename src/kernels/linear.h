// kernels/linear.h — y = x W^T + b on oneDNN matmul. The weight is converted (f16/bf16 -> f32) at
// load, and reordered into the layout oneDNN's kernel prefers the first time a layout is needed; after
// that each call only runs the cached primitive for its row count.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/arena.h"
#include "core/tensor.h"
#include "kernels/dnnl_weights.h"
#include "kernels/precision.h"

namespace difu {

class Linear {
public:
    Linear() = default;
    // weight [out, in] as stored in checkpoints (any float dtype); bias [out] or undefined.
    Linear(const Tensor& weight, const Tensor& bias, Precision precision = Precision::FP32);

    int64_t in_features() const { return in_; }
    int64_t out_features() const { return out_; }
    Precision precision() const { return precision_; }

    // x [rows, in] (row stride ldx) -> y [rows, out] (row stride ldy).
    void forward(const float* x, int64_t rows, float* y, int64_t ldx = -1, int64_t ldy = -1) const;
    // x [..., in] -> [..., out], allocated from the arena.
    Tensor forward(const Tensor& x, Arena& arena) const;

private:
    struct Plan;
    const Plan& plan_for(int64_t rows, int64_t ldx, int64_t ldy) const;
    void run(const Plan& p, const float* x, float* y) const;
    dnnl::matmul::primitive_desc primitive_desc(int64_t rows, int64_t ldx, int64_t ldy) const;
    int64_t in_ = 0, out_ = 0;
    Precision precision_ = Precision::FP32;
    Tensor bias_;
    std::shared_ptr<dnnl::memory> bias_mem_;
    struct Cache {
        std::mutex mutex;
        std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<Plan>> plans;
        PackedWeights weights;
    };
    std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
};

}  // namespace difu
