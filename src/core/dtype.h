// core/dtype.h — element types of tensors, as checkpoints store them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace difu {

// Room is left for block-quantized types (q8_0, q4_k, ...) after the plain ones.
enum class DType : uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);                        // "F32", "F16", ... (safetensors spelling)
std::optional<DType> dtype_from_name(std::string_view name);  // inverse of dtype_name
inline bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

}  // namespace difu
