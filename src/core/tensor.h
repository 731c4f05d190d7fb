// core/tensor.h — an n-d view over Storage: dtype, shape, strides (in elements), byte offset.
// Tensors are cheap handles (shared storage); models mostly use contiguous row-major f32 tensors.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/storage.h"

namespace difu {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 77, 768]"
int64_t shape_numel(const Shape& s);

class Tensor {
public:
    Tensor() = default;
    // New zero-filled contiguous tensor on the heap.
    static Tensor empty(Shape shape, DType dtype = DType::F32);
    static Tensor from_f32(Shape shape, std::span<const float> values);
    // A contiguous view of bytes someone else owns (a mapped checkpoint, an arena block).
    static Tensor view_of(std::shared_ptr<Storage> storage, size_t byte_offset, DType dtype, Shape shape);
    // Shape and dtype without data (like torch's "meta" device): for reasoning about key layouts,
    // e.g. the key lists of full-size checkpoints. defined() is false; data access throws.
    static Tensor meta(Shape shape, DType dtype);

    bool defined() const { return storage_ != nullptr; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    int64_t ndim() const { return static_cast<int64_t>(shape_.size()); }
    int64_t dim(int64_t i) const { return shape_.at(static_cast<size_t>(i < 0 ? i + ndim() : i)); }
    int64_t numel() const { return shape_numel(shape_); }
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
    bool is_contiguous() const;
    const std::shared_ptr<Storage>& storage() const { return storage_; }
    size_t byte_offset() const { return offset_; }

    // Typed access; checks the dtype. The mutable one refuses read-only (file-mapped) storage.
    template <typename T> const T* data() const { check_access(sizeof(T), false); return reinterpret_cast<const T*>(raw()); }
    template <typename T> T* mutable_data() { check_access(sizeof(T), true); return reinterpret_cast<T*>(storage_->data() + offset_); }
    std::span<const float> f32() const { check_f32(); return {data<float>(), static_cast<size_t>(numel())}; }
    std::span<float> f32_mut() { check_f32(); return {mutable_data<float>(), static_cast<size_t>(numel())}; }
    const std::byte* raw() const { return storage_->data() + offset_; }

    // Views (share storage).
    Tensor reshape(Shape shape) const;                   // contiguous only; one dim may be -1
    Tensor slice(int64_t dim, int64_t begin, int64_t end) const;
    Tensor select(int64_t dim, int64_t index) const;     // drops `dim`
    Tensor permute(const std::vector<int64_t>& order) const;

    // Copies.
    Tensor contiguous() const;
    Tensor to(DType dtype) const;  // float <-> float (f32/f16/bf16/f64), ints -> f32; always a new tensor
    Tensor clone() const { return contiguous_copy(); }

private:
    Tensor contiguous_copy() const;
    void check_access(size_t elem_size, bool write) const;
    void check_f32() const;
    std::shared_ptr<Storage> storage_;
    size_t offset_ = 0;
    DType dtype_ = DType::F32;
    Shape shape_;
    Shape strides_;
};

Shape contiguous_strides(const Shape& shape);

// src's elements converted to `target`, written contiguously to `out` (dtype_size(target) * numel
// bytes): Tensor::to without allocating, for callers that convert into a buffer they reuse.
void convert_elements(const Tensor& src, DType target, std::byte* out);

}  // namespace difu
