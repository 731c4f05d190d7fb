#include "core/arena.h"

#include <algorithm>
#include <cstring>

namespace difu {

Tensor Arena::alloc(Shape shape, DType dtype) {
    const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    const size_t need = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
    if (blocks_.empty() || blocks_.back().top + need > blocks_.back().storage->size()) {
        Block b;
        b.storage = Storage::allocate(std::max(block_bytes_, need), /*zero=*/false);
        blocks_.push_back(std::move(b));
    }
    Block& b = blocks_.back();
    // The view shares the block's Storage, so the bytes stay valid even if the arena goes away first.
    Tensor t = Tensor::view_of(b.storage, b.top, dtype, std::move(shape));
    b.top += need;
    used_ += need;
    high_water_ = std::max(high_water_, used_);
    return t;
}

void Arena::reset() {
    if (blocks_.size() > 1) {
        // Next time one block holds the whole pass: fewer, larger blocks.
        size_t total = capacity();
        blocks_.clear();
        Block b;
        b.storage = Storage::allocate(total, /*zero=*/false);
        blocks_.push_back(std::move(b));
    }
    for (auto& b : blocks_) b.top = 0;
    used_ = 0;
}

void Arena::rewind(const Mark& m) {
    DIFU_CHECK(m.blocks <= blocks_.size(), "Arena::rewind to a mark from before a reset");
    // Blocks opened after the mark are dropped (alloc() only fills the last block); a pass that
    // overflows once costs one block allocation per pass until the next reset() merges the blocks.
    blocks_.resize(m.blocks);
    if (m.blocks > 0) blocks_.back().top = m.top;
    used_ = m.used;
}

Tensor Arena::keep(const Mark& m, const Tensor& t) {
    DIFU_CHECK(t.is_contiguous(), "Arena::keep needs a contiguous tensor");
    const bool same_block = m.blocks > 0 && m.blocks <= blocks_.size() &&
                            t.storage() == blocks_[m.blocks - 1].storage && t.byte_offset() >= m.top;
    if (same_block) {
        Block& b = blocks_[m.blocks - 1];
        std::memmove(b.storage->data() + m.top, t.raw(), t.nbytes());
        blocks_.resize(m.blocks);
        const size_t need = (t.nbytes() + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
        Tensor moved = Tensor::view_of(b.storage, m.top, t.dtype(), t.shape());
        b.top = m.top + need;
        used_ = m.used + need;
        return moved;
    }
    // t lives in a block opened after the mark: copy it out after rewinding (its block stays alive
    // through t's own reference until the copy is done).
    Tensor source = t;
    rewind(m);
    Tensor moved = alloc(source.shape(), source.dtype());
    std::memcpy(moved.storage()->data() + moved.byte_offset(), source.raw(), source.nbytes());
    return moved;
}

size_t Arena::capacity() const {
    size_t c = 0;
    for (const auto& b : blocks_) c += b.storage->size();
    return c;
}

}  // namespace difu
