#include "core/arena.h"

#include <algorithm>
#include <cstring>

namespace difu {

Tensor Arena::alloc(Shape shape, DType dtype) {
    const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    const size_t need = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
    if (blocks_.empty() || blocks_.back().top + need > blocks_.back().storage->size()) blocks_.push_back(new_block(need));
    Block& b = blocks_.back();
    // The view shares the block's Storage, so the bytes stay valid even if the arena goes away first.
    Tensor t = Tensor::view_of(b.storage, b.top, dtype, std::move(shape));
    b.top += need;
    used_ += need;
    high_water_ = std::max(high_water_, used_);
    return t;
}

// The smallest spare block that holds `need` bytes, else a fresh one.
Arena::Block Arena::new_block(size_t need) {
    auto best = spare_.end();
    for (auto it = spare_.begin(); it != spare_.end(); ++it)
        if ((*it)->size() >= need && (best == spare_.end() || (*it)->size() < (*best)->size())) best = it;
    Block b;
    if (best != spare_.end()) {
        b.storage = std::move(*best);
        spare_.erase(best);
    } else {
        b.storage = Storage::allocate(std::max(block_bytes_, need), /*zero=*/false);
    }
    return b;
}

void Arena::reset() {
    if (blocks_.size() + spare_.size() > 1) {
        // Next time one block holds the whole pass.
        const size_t total = std::max(high_water_, capacity());
        blocks_.clear();
        spare_.clear();
        Block b;
        b.storage = Storage::allocate(total, /*zero=*/false);
        blocks_.push_back(std::move(b));
    }
    for (auto& b : blocks_) b.top = 0;
    used_ = 0;
}

void Arena::rewind(const Mark& m) {
    DIFU_CHECK(m.blocks <= blocks_.size(), "Arena::rewind to a mark from before a reset");
    // Blocks opened after the mark go to the spares (alloc() only fills the last block). A tensor
    // still viewing one keeps its bytes through its own reference to the Storage, but the arena
    // will hand them out again: the usual rule, nothing allocated after the mark is valid after it.
    for (size_t i = m.blocks; i < blocks_.size(); ++i) spare_.push_back(std::move(blocks_[i].storage));
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
    // memmove: the new place may be in the very block t was in (rewind made it a spare).
    std::memmove(moved.storage()->data() + moved.byte_offset(), source.raw(), source.nbytes());
    return moved;
}

size_t Arena::capacity() const {
    size_t c = 0;
    for (const auto& b : blocks_) c += b.storage->size();
    for (const auto& s : spare_) c += s->size();
    return c;
}

}  // namespace difu
