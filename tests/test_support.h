// tests/test_support.h — paths of the shared fixtures and small helpers for comparing tensors.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace difu::test {

std::string shared_path(const std::string& rel);   // ../shared/<rel>
std::string fixture_path(const std::string& rel);  // ../shared/fixtures/<rel>
std::string source_path(const std::string& rel);   // <project root>/<rel>
std::string difu_binary();                         // the built difu executable
std::string temp_dir();                            // a fresh folder for this test process
// A copy of the safety-checker-tiny fixture whose concept thresholds are all -1: it flags every picture.
// Written once per test process; returns its folder.
std::string flag_all_safety_checker();

// Max |a - b| over all elements (both converted to f32); shapes must match.
double max_abs_diff(const Tensor& a, const Tensor& b);

// A reference's timesteps (I64, or F32 when fractional) as the UNet takes them.
std::vector<float> timesteps_of(const Tensor& t);
// A reference's token ids (I64 [B, 77]) as the text encoders take them.
std::vector<int> token_ids(const Tensor& tokens);

// Runs a shell command, returns exit status; stdout+stderr captured into `output`.
int run_command(const std::string& cmd, std::string* output);

}  // namespace difu::test
