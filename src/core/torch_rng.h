// core/torch_rng.h — torch's CPU generator, bit for bit:
//   g = torch.Generator().manual_seed(seed); torch.randn(shape, generator=g)   (float32, CPU)
// so that a seed gives the same initial latent (and the same ancestral-sampler noise) as the original
// scripts. Follows torch 1.13 on x86 with AVX2: at::mt19937 (MT19937RNGEngine.h), CPUGeneratorImpl,
// DistributionsHelper.h / TransformationHelper.h, and normal_kernel in cpu/DistributionTemplates.h.
// (torch without AVX2 — ARM, ATEN_CPU_CAPABILITY=default — uses libm's logf/cosf/sinf in the block
// fill instead: measured on the fixture, ~40% of the values then differ in the last bits, by <= 2e-6.)
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/tensor.h"

namespace difu {

class TorchCpuGenerator {
public:
    // manual_seed(seed): mt19937 keeps only the low 32 bits, so seed 2^32 + 5 draws like seed 5.
    explicit TorchCpuGenerator(uint64_t seed);

    uint32_t random();     // one mt19937 output
    uint64_t random64();   // two outputs, the first one is the high word
    double next_double();  // uniform in [0, 1): the low 53 bits of random64() * 2^-53
    float next_float();    // uniform in [0, 1): the low 24 bits of random() * 2^-24

    // torch.randn(out.size()) on this generator. Consecutive calls continue the stream as consecutive
    // torch.randn calls on one generator do (ancestral samplers draw one randn(latent shape) per step).
    // Like torch, fewer than 16 values use Box–Muller in double with a cached second value that stays
    // in the generator; 16 or more fill uniforms and transform them in blocks of 16 (cache untouched).
    void randn(std::span<float> out);
    Tensor randn(const Shape& shape);

private:
    double next_double_normal();  // at::normal_distribution<double>(0, 1)
    void normal_fill(std::span<float> out);
    void next_state();

    static constexpr int kStateSize = 624;  // mt19937's n
    std::array<uint32_t, kStateSize> state_{};
    int left_ = 1;   // outputs left before the next twist (as in at::mt19937_data_pod)
    int next_ = 0;   // index of the next state word to temper
    std::optional<double> next_double_normal_sample_;  // the sin half of the last Box–Muller pair
};

}  // namespace difu
