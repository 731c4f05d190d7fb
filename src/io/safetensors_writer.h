// io/safetensors_writer.h — writes named tensors as a .safetensors file (make-random, tests, tools).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace difu {

struct NamedTensor {
    std::string name;
    Tensor tensor;
};

// Tensors are written in the given order (data offsets ascending), the header padded with spaces to
// a multiple of 8 bytes so that every tensor's data is 8-byte aligned, as the reference writer does.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// A tensor made only when its turn to be written comes (a converted copy of a mapped one), so that a
// whole checkpoint is written holding one converted tensor at a time. `make` must return exactly
// `shape` and `dtype`.
struct LazyTensor {
    std::string name;
    Shape shape;
    DType dtype;
    std::function<Tensor()> make;
};
void write_safetensors(const std::string& path, const std::vector<LazyTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace difu
