#include "kernels/precision.h"

#include <fmt/format.h>

#include <chrono>
#include <vector>

#include "core/arena.h"
#include "core/error.h"
#include "kernels/conv2d.h"

namespace difu {

std::string_view precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

bool cpu_has_bf16() {
    static const bool has = __builtin_cpu_supports("avx512bf16");
    return has;
}

namespace {

// GFLOP/s of a 3x3 conv 320 -> 320 on a 2 x 32 x 32 input (a UNet level-1 shape, ~1.9 GFLOP), best of 3.
double conv_rate(Precision p) {
    std::vector<float> w(320 * 320 * 9, 0.01f), b(320, 0.0f);
    Conv2d conv(Tensor::from_f32({320, 320, 3, 3}, w), Tensor::from_f32({320}, b), ConvGeometry::same(3), p);
    Tensor x = Tensor::empty({2, 32, 32, 320});
    Arena a;
    double best = 1e30;
    for (int r = 0; r < 4; ++r) {  // the first run creates the primitive and reorders the weights
        a.reset();
        const auto t0 = std::chrono::steady_clock::now();
        conv.forward(x, a);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0) best = std::min(best, s);
    }
    return 2.0 * 2 * 32 * 32 * 320 * 320 * 9 / best / 1e9;
}

}  // namespace

PrecisionChoice choose_precision(std::string_view requested) {
    if (requested == "fp32") return {Precision::FP32, "fp32 (requested)"};
    if (requested == "bf16") {
        if (!cpu_has_bf16()) throw Error::make("--precision bf16 needs a CPU with AVX512_BF16; this one has none (use fp32)");
        return {Precision::BF16, "bf16 (requested)"};
    }
    if (requested != "auto") throw Error::make("precision must be auto, fp32 or bf16, not '{}'", requested);
    if (!cpu_has_bf16()) return {Precision::FP32, "auto: fp32 (this CPU has no AVX512_BF16)"};
    const double f = conv_rate(Precision::FP32), h = conv_rate(Precision::BF16);
    const Precision p = h > f ? Precision::BF16 : Precision::FP32;
    return {p, fmt::format("auto: {} (3x3 conv: bf16 {:.0f} GFLOP/s, fp32 {:.0f} GFLOP/s on this CPU)", precision_name(p), h, f)};
}

}  // namespace difu
