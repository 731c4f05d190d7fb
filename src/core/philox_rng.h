// core/philox_rng.h — webui's "NV" random source (modules/rng_philox.py): the numbers torch.randn gives
// on an NVIDIA GPU (torch's CUDA generator: Philox4x32-10, Box–Muller), reproduced on the CPU, so a
// webui user's seed gives the picture their GPU gave.
//   element i of the c-th randn call of Generator(seed): counter (c, 0, i, 0), key (seed lo, seed hi),
//   10 Philox rounds -> words x0, x1;  u = (x0 + 1/2) 2^-32,  v = (x1 + 1/2) 2^-32 · 2π (float32),
//   value = sqrt(-2 ln u) sin v       (one normal per block, float32 arithmetic as numpy's)
// The numbers depend only on (seed, call, flat index): a shape is a view of the same stream.
#pragma once
#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace difu {

// One Philox4x32 block: the four output words for `counter` under `key`, after 10 rounds.
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class PhiloxGenerator {
public:
    // The whole 64-bit seed is the key (seed 2^32 + 5 draws differently from seed 5).
    explicit PhiloxGenerator(uint64_t seed) : seed_(seed) {}

    // randn(shape) in float32; each call moves to the next counter offset, as rng_philox.Generator does.
    Tensor randn(const Shape& shape);
    uint64_t offset() const { return offset_; }

private:
    uint64_t seed_;
    uint64_t offset_ = 0;
};

}  // namespace difu
