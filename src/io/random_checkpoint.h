// io/random_checkpoint.h — full-size (or tiny) checkpoints with random weights in the exact key
// layout of a released file, for benchmarks and memory tests (`difu make-random`). Nothing here is a
// trained model: images generated from these files are noise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/model_config.h"

namespace difu {

// Named architectures: "sd15" (SD 1.5: v1-inference.yaml), "tiny" (the shapes of the sd1-tiny fixture).
ModelConfig architecture_config(const std::string& arch);
std::vector<std::string> architecture_names();

// The tensors of `cfg` with the dtype a released file stores them in: floats as `float_dtype`,
// position_ids as I64, model_ema.num_updates as I32.
struct RandomTensorSpec {
    TensorSpec spec;
    DType dtype;
};
std::vector<RandomTensorSpec> random_checkpoint_layout(const ModelConfig& cfg, DType float_dtype);

// Writes the checkpoint as .safetensors, tensor by tensor (memory stays at one tensor's size).
// Weights are uniform in +-1/sqrt(fan_in) like torch's default init, norms 1, biases small; the
// schedule buffers hold the real scaled-linear schedule. Deterministic for a seed.
void write_random_checkpoint(const std::string& path, const ModelConfig& cfg, DType float_dtype, uint64_t seed);

}  // namespace difu
