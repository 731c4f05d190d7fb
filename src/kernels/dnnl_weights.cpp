#include "kernels/dnnl_weights.h"

#include "kernels/dnnl_context.h"

namespace difu {

std::shared_ptr<dnnl::memory> PackedWeights::in_layout(const dnnl::memory::desc& wanted) {
    for (const auto& m : layouts_)
        if (m->get_desc() == wanted) return m;
    dnnl::memory source = layouts_.empty()
                              ? dnnl::memory(plain_desc_, dnnl_engine(), plain_.storage()->data() + plain_.byte_offset())
                              : *layouts_.front();
    // Our own allocation, not oneDNN's: big weights then sit in huge pages (core/storage.h).
    std::shared_ptr<Storage> bytes = Storage::allocate(wanted.get_size(), /*zero=*/false);
    auto packed = std::shared_ptr<dnnl::memory>(new dnnl::memory(wanted, dnnl_engine(), bytes->data()),
                                                [bytes](dnnl::memory* m) { delete m; });
    dnnl::reorder(source, *packed).execute(dnnl_stream(), source, *packed);
    dnnl_stream().wait();
    layouts_.push_back(packed);
    plain_ = Tensor();  // one copy of the weights from now on
    return packed;
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
