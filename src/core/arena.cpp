#include "core/arena.h"

#include <algorithm>

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

size_t Arena::capacity() const {
    size_t c = 0;
    for (const auto& b : blocks_) c += b.storage->size();
    return c;
}

}  // namespace difu
