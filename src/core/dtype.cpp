#include "core/dtype.h"

#include <array>

namespace difu {
namespace {
struct DTypeInfo { DType type; std::string_view name; size_t size; };
constexpr std::array<DTypeInfo, 10> kDTypes{{
    {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2}, {DType::F64, "F64", 8},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2},  {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::Bool, "BOOL", 1},
}};
}  // namespace

size_t dtype_size(DType t) { return kDTypes[static_cast<size_t>(t)].size; }
std::string_view dtype_name(DType t) { return kDTypes[static_cast<size_t>(t)].name; }
std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& d : kDTypes)
        if (d.name == name) return d.type;
    return std::nullopt;
}

}  // namespace difu
