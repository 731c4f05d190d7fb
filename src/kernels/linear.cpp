#include "kernels/linear.h"

#include "kernels/dnnl_context.h"
#include "kernels/flops.h"
#include "kernels/profile.h"

namespace difu {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Linear::Plan {
    dnnl::matmul primitive;
    dnnl::memory::desc dst;
    InputCast input;
    std::shared_ptr<dnnl::memory> weights;  // in the layout this primitive wants
    // oneDNN's gemm-based matmul (what it picks without AVX-512) splits the reduction over K between
    // threads for some shapes, so its sums depend on the thread count; brgemm never does.
    bool reduction_depends_on_threads = false;
};

namespace {
// Rows per single-threaded call when the primitive's sums would depend on the thread count: a fixed
// partition (whatever -t says) keeps every output row's sum order, so images stay bit-identical
// across thread counts.
constexpr int64_t kDeterministicRows = 64;

bool splits_reduction(const dnnl::matmul::primitive_desc& pd) {
    const std::string impl = pd.impl_info_str();
    return impl.rfind("gemm", 0) == 0;  // "gemm:jit", "gemm:ref"; not "brg:..."
}
}  // namespace

Linear::Linear(const Tensor& weight, const Tensor& bias, Precision precision) : precision_(precision) {
    DIFU_CHECK(weight.ndim() == 2, "Linear weight must be 2-d, got {}", shape_str(weight.shape()));
    out_ = weight.dim(0);
    in_ = weight.dim(1);
    if (bias.defined()) {
        DIFU_CHECK(bias.numel() == out_, "Linear bias has {} elements, expected {}", bias.numel(), out_);
        bias_ = bias.to(DType::F32).reshape({out_});
        dnnl::memory::desc bd({1, out_}, dt::f32, tag::ab);
        bias_mem_ = std::make_shared<dnnl::memory>(bd, dnnl_engine(), bias_.mutable_data<float>());
    }
    // W [out, in] row-major is the matmul's K x N weight in "ba" order, converted straight to the
    // compute dtype and reordered now: matmul's weight layout does not depend on the row count
    // (checked for oneDNN 2.6's brgemm kernels), so from load on there is one copy of the weights, in
    // the layout every plan uses, and the first forward pass does no weight work.
    constexpr int64_t kTypicalRows = 4096;
    const dnnl::memory::desc plain({in_, out_}, precision == Precision::BF16 ? dt::bf16 : dt::f32, tag::ba);
    cache_->weights = PackedWeights(weight, plain, primitive_desc(kTypicalRows, in_, out_).weights_desc());
}

dnnl::matmul::primitive_desc Linear::primitive_desc(int64_t rows, int64_t ldx, int64_t ldy) const {
    const bool bf16 = precision_ == Precision::BF16;
    const dnnl::memory::desc src = bf16 ? dnnl::memory::desc({rows, in_}, dt::bf16, tag::ab)
                                        : dnnl::memory::desc({rows, in_}, dt::f32, dnnl::memory::dims{ldx, 1});
    const dnnl::memory::desc dst({rows, out_}, dt::f32, dnnl::memory::dims{ldy, 1});
    dnnl::memory::desc wany({in_, out_}, bf16 ? dt::bf16 : dt::f32, tag::any);
    dnnl::matmul::desc d = bias_mem_ ? dnnl::matmul::desc(src, wany, bias_mem_->get_desc(), dst)
                                     : dnnl::matmul::desc(src, wany, dst);
    return dnnl::matmul::primitive_desc(d, dnnl_engine());
}

const Linear::Plan& Linear::plan_for(int64_t rows, int64_t ldx, int64_t ldy) const {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto key = std::make_tuple(rows, ldx, ldy);
    if (auto it = cache_->plans.find(key); it != cache_->plans.end()) return *it->second;
    auto plan = std::make_shared<Plan>();
    const dnnl::matmul::primitive_desc pd = primitive_desc(rows, ldx, ldy);
    plan->dst = pd.dst_desc();
    plan->primitive = dnnl::matmul(pd);
    plan->input = InputCast(dnnl::memory::desc({rows, in_}, dt::f32, dnnl::memory::dims{ldx, 1}), pd.src_desc());
    plan->weights = cache_->weights.in_layout(pd.weights_desc());
    plan->reduction_depends_on_threads = splits_reduction(pd);
    return *cache_->plans.emplace(key, plan).first->second;
}

void Linear::run(const Plan& p, const float* x, float* y) const {
    dnnl::memory dst(p.dst, dnnl_engine(), y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, p.input.source(x)}, {DNNL_ARG_WEIGHTS, *p.weights}, {DNNL_ARG_DST, dst}};
    if (bias_mem_) args.emplace(DNNL_ARG_BIAS, *bias_mem_);
    p.primitive.execute(dnnl_stream(), args);
    dnnl_stream().wait();
}

void Linear::forward(const float* x, int64_t rows, float* y, int64_t ldx, int64_t ldy) const {
    KernelScope profile_scope(KernelKind::Linear);
    if (rows == 0) return;
    if (ldx < 0) ldx = in_;
    if (ldy < 0) ldy = out_;
    const Plan& p = plan_for(rows, ldx, ldy);
    count_flops(static_cast<uint64_t>(2 * rows * in_ * out_));
    if (!p.reduction_depends_on_threads) return run(p, x, y);
    // Fixed row blocks, each one primitive call inside this parallel loop (where oneDNN runs on the
    // calling thread alone): every row's sum is formed the same way for any thread count.
    const int64_t blocks = (rows + kDeterministicRows - 1) / kDeterministicRows;
    const Plan& full = plan_for(std::min(rows, kDeterministicRows), ldx, ldy);
    const Plan& tail = plan_for(rows - (blocks - 1) * kDeterministicRows, ldx, ldy);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b)
        run(b + 1 < blocks ? full : tail, x + b * kDeterministicRows * ldx, y + b * kDeterministicRows * ldy);
}

Tensor Linear::forward(const Tensor& x, Arena& arena) const {
    DIFU_CHECK(x.dim(-1) == in_, "Linear expects {} input features, got shape {}", in_, shape_str(x.shape()));
    Tensor xc = x.contiguous();
    Shape out_shape = x.shape();
    out_shape.back() = out_;
    Tensor y = arena.alloc(out_shape);
    forward(xc.data<float>(), xc.numel() / in_, y.mutable_data<float>());
    return y;
}

}  // namespace difu
