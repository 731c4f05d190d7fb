#include "kernels/dnnl_weights.h"

#include <algorithm>

#include "core/threads.h"
#include "kernels/dnnl_context.h"

namespace difu {

namespace {
thread_local std::vector<std::byte> conversion_scratch;
}  // namespace

PackedWeights::PackedWeights(const Tensor& stored, const dnnl::memory::desc& plain, const dnnl::memory::desc& first) {
    using dt = dnnl::memory::data_type;
    DIFU_CHECK(plain.data_type() == dt::bf16 || plain.data_type() == dt::f32, "PackedWeights: plain layout must be f32 or bf16");
    const DType compute = plain.data_type() == dt::bf16 ? DType::BF16 : DType::F32;
    DIFU_CHECK(static_cast<size_t>(stored.numel()) * dtype_size(compute) == plain.get_size(),
               "PackedWeights: {} weights do not fill a {}-byte layout", stored.numel(), plain.get_size());
    // Models are built in a SerialScope (many small weights: waking a second thread for each costs
    // more than it gives); a big one converts, reorders and faults in its fresh pages on every core.
    constexpr size_t kParallelBytes = size_t{4} << 20;
    ThreadScope threads(plain.get_size() >= kParallelBytes ? configured_threads() : 1);
    conversion_scratch.resize(std::max(conversion_scratch.size(), plain.get_size()));
    convert_elements(stored, compute, conversion_scratch.data());
    layouts_.push_back(reorder_into(dnnl::memory(plain, dnnl_engine(), conversion_scratch.data()), first));
}

void PackedWeights::release_scratch() {
    conversion_scratch.clear();
    conversion_scratch.shrink_to_fit();
}

std::shared_ptr<dnnl::memory> PackedWeights::reorder_into(const dnnl::memory& source, const dnnl::memory::desc& wanted) {
    // Our own allocation, not oneDNN's: big weights then sit in huge pages (core/storage.h).
    std::shared_ptr<Storage> bytes = Storage::allocate(wanted.get_size(), /*zero=*/false);
    auto packed = std::shared_ptr<dnnl::memory>(new dnnl::memory(wanted, dnnl_engine(), bytes->data()),
                                                [bytes](dnnl::memory* m) { delete m; });
    dnnl::reorder(source, *packed).execute(dnnl_stream(), const_cast<dnnl::memory&>(source), *packed);
    dnnl_stream().wait();
    return packed;
}

std::shared_ptr<dnnl::memory> PackedWeights::in_layout(const dnnl::memory::desc& wanted) {
    for (const auto& m : layouts_)
        if (m->get_desc() == wanted) return m;
    DIFU_CHECK(!layouts_.empty(), "PackedWeights used before it was built");
    layouts_.push_back(reorder_into(*layouts_.front(), wanted));
    return layouts_.back();
}

InputCast::InputCast(const dnnl::memory::desc& f32, const dnnl::memory::desc& compute) : f32_(f32), compute_(compute) {
    if (!(f32 == compute)) reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(dnnl_engine(), f32, dnnl_engine(), compute));
}

dnnl::memory InputCast::source(const float* x) const {
    dnnl::memory src(f32_, dnnl_engine(), const_cast<float*>(x));
    if (!reorder_) return src;
    thread_local std::vector<uint16_t> scratch;  // bf16 activations; grows to the largest layer input
    scratch.resize(compute_.get_size() / sizeof(uint16_t));
    dnnl::memory half(compute_, dnnl_engine(), scratch.data());
    reorder_->execute(dnnl_stream(), src, half);
    return half;
}

}  // namespace difu
