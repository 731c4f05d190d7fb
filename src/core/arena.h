// core/arena.h — scratch memory for a forward pass: a bump allocator over large blocks, so that
// intermediate activations cost no malloc per op. reset() recycles everything at once; tensors
// taken from an arena must not outlive the next reset().
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace difu {

class Arena {
public:
    explicit Arena(size_t block_bytes = size_t{64} << 20) : block_bytes_(block_bytes) {}

    // A contiguous, uninitialised tensor from the arena.
    Tensor alloc(Shape shape, DType dtype = DType::F32);
    // Forget every allocation; keeps the memory, as one block of the high-water size when it was
    // spread over several.
    void reset();

    // Scoped use: everything allocated after mark() is released by rewind(mark).
    struct Mark { size_t blocks, top, used; };
    Mark mark() const { return {blocks_.size(), blocks_.empty() ? 0 : blocks_.back().top, used_}; }
    void rewind(const Mark& m);
    // Rewinds to `m` but keeps `t` (allocated after m): t's bytes move down to the mark, so a block of
    // a network can free its temporaries and keep only its output. Returns the moved tensor.
    Tensor keep(const Mark& m, const Tensor& t);

    size_t used() const { return used_; }
    size_t capacity() const;  // bytes held, spares included
    size_t high_water() const { return high_water_; }

private:
    struct Block { std::shared_ptr<Storage> storage; size_t top = 0; };
    Block new_block(size_t need);
    size_t block_bytes_;
    std::vector<Block> blocks_;
    // Blocks a rewind() let go of, kept for the next overflow: a forward pass rewinds after every
    // layer, and freeing a 100 MB block there means faulting its pages in again on the next layer
    // (half the UNet's time went to the kernel that way).
    std::vector<std::shared_ptr<Storage>> spare_;
    size_t used_ = 0;
    size_t high_water_ = 0;
};

}  // namespace difu
