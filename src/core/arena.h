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
    // Forget every allocation; keeps the blocks (merged into one when there were several).
    void reset();

    // Scoped use: everything allocated after mark() is released by rewind(mark).
    struct Mark { size_t blocks, top, used; };
    Mark mark() const { return {blocks_.size(), blocks_.empty() ? 0 : blocks_.back().top, used_}; }
    void rewind(const Mark& m);
    // Rewinds to `m` but keeps `t` (allocated after m): t's bytes move down to the mark, so a block of
    // a network can free its temporaries and keep only its output. Returns the moved tensor.
    Tensor keep(const Mark& m, const Tensor& t);

    size_t used() const { return used_; }
    size_t capacity() const;
    size_t high_water() const { return high_water_; }

private:
    struct Block { std::shared_ptr<Storage> storage; size_t top = 0; };
    size_t block_bytes_;
    std::vector<Block> blocks_;
    size_t used_ = 0;
    size_t high_water_ = 0;
};

}  // namespace difu
