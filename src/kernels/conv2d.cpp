#include "kernels/conv2d.h"

#include <algorithm>

#include "kernels/dnnl_context.h"
#include "kernels/flops.h"
#include "kernels/profile.h"

namespace difu {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Conv2d::Plan {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc dst;
    InputCast input;
    std::shared_ptr<dnnl::memory> weights;  // in the layout this primitive wants
    int64_t oh, ow;
};

Conv2d::Conv2d(const Tensor& weight, const Tensor& bias, ConvGeometry geometry, Precision precision)
    : geo_(geometry), precision_(precision) {
    DIFU_CHECK(weight.ndim() == 4, "Conv2d weight must be 4-d, got {}", shape_str(weight.shape()));
    cout_ = weight.dim(0);
    cin_ = weight.dim(1);
    kh_ = weight.dim(2);
    kw_ = weight.dim(3);
    bias_ = bias.defined() ? bias.to(DType::F32).reshape({cout_}) : Tensor::empty({cout_});
    // Converted straight to the compute dtype and reordered now, into the layout oneDNN picks for a
    // CFG batch of a 64x64 latent. That layout depends only on the channel counts for fp32 and mostly
    // for bf16 (320 channels at batch 1 and <= 32x32 pick another block size; such a call reorders
    // once more, from this copy).
    constexpr int64_t kTypicalBatch = 2, kTypicalSize = 64;
    const int64_t size = std::max<int64_t>(kTypicalSize, std::max(kh_, kw_));
    const dnnl::memory::desc plain({cout_, cin_, kh_, kw_}, precision == Precision::BF16 ? dt::bf16 : dt::f32, tag::oihw);
    cache_->weights = PackedWeights(weight, plain, primitive_desc(kTypicalBatch, size, size).weights_desc());
}

dnnl::convolution_forward::primitive_desc Conv2d::primitive_desc(int64_t n, int64_t h, int64_t w) const {
    const int64_t oh = out_size(h, 0), ow = out_size(w, 1);
    const dt compute = precision_ == Precision::BF16 ? dt::bf16 : dt::f32;
    const dnnl::memory::desc src({n, cin_, h, w}, compute, tag::nhwc);
    const dnnl::memory::desc dst({n, cout_, oh, ow}, dt::f32, tag::nhwc);  // fp32 out either way
    dnnl::memory::desc wany({cout_, cin_, kh_, kw_}, compute, tag::any);
    dnnl::memory::desc bd({cout_}, dt::f32, tag::x);
    const dnnl::memory::dims strides{geo_.stride, geo_.stride};
    const dnnl::memory::dims pad_l{geo_.pad[0], geo_.pad[1]}, pad_r{geo_.pad[2], geo_.pad[3]};
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                      src, wany, bd, dst, strides, pad_l, pad_r);
    return dnnl::convolution_forward::primitive_desc(d, dnnl_engine());
}

int64_t Conv2d::out_size(int64_t in, int axis) const {
    const int64_t k = axis == 0 ? kh_ : kw_;
    const int64_t pads = axis == 0 ? geo_.pad[0] + geo_.pad[2] : geo_.pad[1] + geo_.pad[3];
    return (in + pads - k) / geo_.stride + 1;
}

const Conv2d::Plan& Conv2d::plan_for(int64_t n, int64_t h, int64_t w) const {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto key = std::make_tuple(n, h, w);
    if (auto it = cache_->plans.find(key); it != cache_->plans.end()) return *it->second;
    auto plan = std::make_shared<Plan>();
    plan->oh = out_size(h, 0);
    plan->ow = out_size(w, 1);
    DIFU_CHECK(plan->oh > 0 && plan->ow > 0, "Conv2d: input {}x{} is smaller than the kernel", h, w);
    const dnnl::convolution_forward::primitive_desc pd = primitive_desc(n, h, w);
    plan->dst = pd.dst_desc();
    plan->primitive = dnnl::convolution_forward(pd);
    plan->input = InputCast(dnnl::memory::desc({n, cin_, h, w}, dt::f32, tag::nhwc), pd.src_desc());
    plan->weights = cache_->weights.in_layout(pd.weights_desc());
    return *cache_->plans.emplace(key, plan).first->second;
}

void Conv2d::forward(const float* x, int64_t n, int64_t h, int64_t w, float* y) const {
    KernelScope profile_scope(KernelKind::Conv);
    const Plan& p = plan_for(n, h, w);
    count_flops(static_cast<uint64_t>(2 * n * p.oh * p.ow * cout_ * cin_ * kh_ * kw_));
    const dnnl::memory src = p.input.source(x);
    dnnl::memory dst(p.dst, dnnl_engine(), y);
    dnnl::memory bias({{cout_}, dt::f32, tag::x}, dnnl_engine(), const_cast<float*>(bias_.data<float>()));
    p.primitive.execute(dnnl_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, *p.weights},
                                        {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
    dnnl_stream().wait();
}

Tensor Conv2d::forward(const Tensor& x, Arena& arena) const {
    DIFU_CHECK(x.ndim() == 4 && x.dim(3) == cin_, "Conv2d expects NHWC input with {} channels, got {}", cin_,
               shape_str(x.shape()));
    Tensor xc = x.contiguous();
    const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2);
    Tensor y = arena.alloc({n, out_size(h, 0), out_size(w, 1), cout_});
    forward(xc.data<float>(), n, h, w, y.mutable_data<float>());
    return y;
}

}  // namespace difu
