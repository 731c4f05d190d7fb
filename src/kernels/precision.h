// kernels/precision.h — the arithmetic the big kernels (conv, linear) run in.
//   fp32: fp32 weights and activations.
//   bf16: bf16 weights (half the memory) and bf16 copies of the activations fed to oneDNN, fp32
//         accumulation and fp32 outputs; norms, softmax and element-wise work stay fp32.
// Which is faster depends on the CPU (AVX512_BF16 runs at ~2x fp32 on AMD Zen 4/5 and at ~0.5x on
// some Xeons), so `auto` measures both on a UNet-shaped convolution and takes the faster.
#pragma once
#include <string>
#include <string_view>

namespace difu {

enum class Precision { FP32, BF16 };

std::string_view precision_name(Precision p);  // "fp32", "bf16"
bool cpu_has_bf16();                           // AVX512_BF16 (or AMX-BF16)

struct PrecisionChoice {
    Precision precision;
    std::string reason;  // e.g. "auto: bf16 conv 412 GFLOP/s vs fp32 221 GFLOP/s on this CPU"
};
// "fp32", "bf16" or "auto"; throws Error for anything else, and for bf16 on a CPU without bf16.
PrecisionChoice choose_precision(std::string_view requested);

}  // namespace difu
