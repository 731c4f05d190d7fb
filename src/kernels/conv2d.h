// kernels/conv2d.h — 2-d convolution on oneDNN over NHWC activations.
// The weight is reordered into the layout oneDNN's kernel prefers the first time a layout is
// needed (normally once, at the first call) and cached: no call after that reorders weights.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <mutex>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/arena.h"
#include "core/tensor.h"
#include "kernels/dnnl_weights.h"
#include "kernels/precision.h"

namespace difu {

struct ConvGeometry {
    int stride = 1;
    std::array<int, 4> pad{0, 0, 0, 0};  // top, left, bottom, right (the VAE's Downsample pads (0,1,0,1))
    static ConvGeometry same(int kernel) { int p = kernel / 2; return {1, {p, p, p, p}}; }
};

class Conv2d {
public:
    Conv2d() = default;
    // weight [out, in, kh, kw] (any float dtype), bias [out] or undefined.
    Conv2d(const Tensor& weight, const Tensor& bias, ConvGeometry geometry, Precision precision = Precision::FP32);

    int64_t in_channels() const { return cin_; }
    int64_t out_channels() const { return cout_; }
    int64_t out_size(int64_t in, int axis) const;  // axis 0 = height, 1 = width

    // x [N, H, W, in] -> [N, H', W', out] from the arena.
    Tensor forward(const Tensor& x, Arena& arena) const;
    void forward(const float* x, int64_t n, int64_t h, int64_t w, float* y) const;

private:
    struct Plan;
    const Plan& plan_for(int64_t n, int64_t h, int64_t w) const;
    dnnl::convolution_forward::primitive_desc primitive_desc(int64_t n, int64_t h, int64_t w) const;
    int64_t cout_ = 0, cin_ = 0, kh_ = 0, kw_ = 0;
    ConvGeometry geo_;
    Precision precision_ = Precision::FP32;
    Tensor bias_;  // f32 [out]
    struct Cache {
        std::mutex mutex;
        std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<Plan>> plans;
        PackedWeights weights;
    };
    std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
};

}  // namespace difu
