// io/random_safety_checker.h — a random-weight safety checker in the exact layout of the released
// CompVis/stable-diffusion-safety-checker model.safetensors (CLIP ViT-L/14 vision tower, 768-wide
// projection, 17 concept and 3 special-care embeddings; 397 tensors, all F32 but position_ids), for
// benchmarks (`difu make-random --arch safety-checker`). It flags pictures at random.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors_writer.h"

namespace difu {

std::vector<LazyTensor> random_safety_checker_layout(uint64_t seed);
void write_random_safety_checker(const std::string& path, uint64_t seed);

}  // namespace difu
