// core/half.h — IEEE binary16 and bfloat16 <-> float conversion.
// Scalar versions are the reference; the span versions use F16C / AVX-512 where the CPU has them.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>

namespace difu {

// Round-to-nearest-even, as torch's .half() / .bfloat16() do.
inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
inline uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

void convert_f16_to_f32(std::span<const uint16_t> in, std::span<float> out);
void convert_bf16_to_f32(std::span<const uint16_t> in, std::span<float> out);
void convert_f32_to_f16(std::span<const float> in, std::span<uint16_t> out);
void convert_f32_to_bf16(std::span<const float> in, std::span<uint16_t> out);

}  // namespace difu
