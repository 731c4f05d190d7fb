#include "core/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "core/half.h"

namespace difu {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

Shape contiguous_strides(const Shape& shape) {
    Shape st(shape.size());
    int64_t acc = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        st[i] = acc;
        acc *= shape[i];
    }
    return st;
}

Tensor Tensor::empty(Shape shape, DType dtype) {
    for (int64_t d : shape)
        if (d < 0) throw Error::make("negative dimension in shape {}", shape_str(shape));
    Tensor t;
    t.storage_ = Storage::allocate(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype));
    t.dtype_ = dtype;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    return t;
}

Tensor Tensor::from_f32(Shape shape, std::span<const float> values) {
    Tensor t = empty(std::move(shape), DType::F32);
    DIFU_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "from_f32: value count != shape");
    std::memcpy(t.mutable_data<float>(), values.data(), values.size() * sizeof(float));
    return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, size_t byte_offset, DType dtype, Shape shape) {
    Tensor t;
    const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    DIFU_CHECK(storage && byte_offset + bytes <= storage->size(), "view_of: view exceeds storage");
    t.storage_ = std::move(storage);
    t.offset_ = byte_offset;
    t.dtype_ = dtype;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    return t;
}

Tensor Tensor::meta(Shape shape, DType dtype) {
    Tensor t;
    t.dtype_ = dtype;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    return t;
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_) || numel() <= 1; }

void Tensor::check_access(size_t elem_size, bool write) const {
    DIFU_CHECK(storage_ != nullptr, "access to an undefined tensor");
    DIFU_CHECK(elem_size == dtype_size(dtype_), "typed access with the wrong element size for {}", dtype_name(dtype_));
    DIFU_CHECK(!write || storage_->writable(), "write access to read-only (file-mapped) tensor storage");
}

void Tensor::check_f32() const {
    DIFU_CHECK(dtype_ == DType::F32, "expected an F32 tensor, got {}", dtype_name(dtype_));
    DIFU_CHECK(is_contiguous(), "expected a contiguous tensor");
}

Tensor Tensor::reshape(Shape shape) const {
    DIFU_CHECK(is_contiguous(), "reshape of a non-contiguous tensor");
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            DIFU_CHECK(infer < 0, "reshape with two -1 dims");
            infer = static_cast<int64_t>(i);
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) shape[static_cast<size_t>(infer)] = known ? numel() / known : 0;
    DIFU_CHECK(shape_numel(shape) == numel(), "reshape {} -> {} changes the element count", shape_str(shape_),
               shape_str(shape));
    Tensor t = *this;
    t.strides_ = contiguous_strides(shape);
    t.shape_ = std::move(shape);
    return t;
}

Tensor Tensor::slice(int64_t d, int64_t begin, int64_t end) const {
    if (d < 0) d += ndim();
    DIFU_CHECK(d >= 0 && d < ndim() && 0 <= begin && begin <= end && end <= shape_[d], "slice out of range");
    Tensor t = *this;
    t.offset_ += static_cast<size_t>(begin * strides_[d]) * dtype_size(dtype_);
    t.shape_[d] = end - begin;
    return t;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    if (d < 0) d += ndim();
    Tensor t = slice(d, index, index + 1);
    t.shape_.erase(t.shape_.begin() + d);
    t.strides_.erase(t.strides_.begin() + d);
    return t;
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
    DIFU_CHECK(static_cast<int64_t>(order.size()) == ndim(), "permute: wrong number of dims");
    Tensor t = *this;
    for (size_t i = 0; i < order.size(); ++i) {
        t.shape_[i] = shape_.at(static_cast<size_t>(order[i]));
        t.strides_[i] = strides_.at(static_cast<size_t>(order[i]));
    }
    return t;
}

// Generic strided copy into a fresh contiguous tensor of the same dtype (byte-wise per element).
Tensor Tensor::contiguous_copy() const {
    Tensor out = empty(shape_, dtype_);
    const size_t es = dtype_size(dtype_);
    const int64_t n = numel();
    if (n == 0) return out;
    if (is_contiguous()) {
        std::memcpy(out.storage_->data(), raw(), static_cast<size_t>(n) * es);
        return out;
    }
    std::vector<int64_t> idx(shape_.size(), 0);
    std::byte* dst = out.storage_->data();
    const std::byte* base = raw();
    for (int64_t i = 0; i < n; ++i) {
        int64_t off = 0;
        for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * strides_[k];
        std::memcpy(dst + static_cast<size_t>(i) * es, base + static_cast<size_t>(off) * es, es);
        for (size_t k = idx.size(); k-- > 0;) {
            if (++idx[k] < shape_[k]) break;
            idx[k] = 0;
        }
    }
    return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : contiguous_copy(); }

namespace {
template <typename Src>
void widen(const Src* in, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]);
}
}  // namespace

void convert_elements(const Tensor& src, DType target, std::byte* out) {
    const Tensor c = src.contiguous();
    const size_t n = static_cast<size_t>(c.numel());
    const DType from = c.dtype();
    if (target == from) {
        std::memcpy(out, c.raw(), c.nbytes());
        return;
    }
    if (target != DType::F32 && target != DType::F16 && target != DType::BF16 && target != DType::F64)
        throw Error::make("conversion from {} to {} is not supported", dtype_name(from), dtype_name(target));
    // Everything goes through f32, which holds f16 and bf16 exactly, a cache-sized chunk at a time:
    // a whole-tensor f32 temporary would double the fresh memory a model load touches.
    constexpr size_t kChunk = 16384;
    const size_t in_size = dtype_size(from), out_size = dtype_size(target);
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks > 16)
    for (int64_t k = 0; k < chunks; ++k) {
        float buffer[kChunk];
        const size_t i0 = static_cast<size_t>(k) * kChunk, m = std::min(kChunk, n - i0);
        const std::byte* p = c.raw() + i0 * in_size;
        std::byte* q = out + i0 * out_size;
        float* fp = target == DType::F32 ? reinterpret_cast<float*>(q) : buffer;
        switch (from) {
            case DType::F32: std::memcpy(fp, p, m * 4); break;
            case DType::F16: convert_f16_to_f32({reinterpret_cast<const uint16_t*>(p), m}, {fp, m}); break;
            case DType::BF16: convert_bf16_to_f32({reinterpret_cast<const uint16_t*>(p), m}, {fp, m}); break;
            case DType::F64: widen(reinterpret_cast<const double*>(p), fp, m); break;
            case DType::I64: widen(reinterpret_cast<const int64_t*>(p), fp, m); break;
            case DType::I32: widen(reinterpret_cast<const int32_t*>(p), fp, m); break;
            case DType::I16: widen(reinterpret_cast<const int16_t*>(p), fp, m); break;
            case DType::I8: widen(reinterpret_cast<const int8_t*>(p), fp, m); break;
            case DType::U8: widen(reinterpret_cast<const uint8_t*>(p), fp, m); break;
            case DType::Bool: widen(reinterpret_cast<const uint8_t*>(p), fp, m); break;
        }
        switch (target) {
            case DType::F16: convert_f32_to_f16({fp, m}, {reinterpret_cast<uint16_t*>(q), m}); break;
            case DType::BF16: convert_f32_to_bf16({fp, m}, {reinterpret_cast<uint16_t*>(q), m}); break;
            case DType::F64:
                for (size_t i = 0; i < m; ++i) reinterpret_cast<double*>(q)[i] = fp[i];
                break;
            default: break;  // F32: converted in place
        }
    }
}

Tensor Tensor::to(DType target) const {
    if (target == dtype_) return contiguous().clone();
    Tensor out = empty(shape_, target);  // convert_elements refuses targets other than the float types
    convert_elements(*this, target, out.storage()->data() + out.byte_offset());
    return out;
}

}  // namespace difu
