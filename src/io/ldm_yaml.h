// io/ldm_yaml.h — a sidecar <checkpoint>.yaml in the original LDM inference-config format
// (configs/stable-diffusion/v1-inference.yaml, v2-inference-v.yaml, ...) overrides what the shapes
// cannot tell (v-prediction, heads), as webui does.
#pragma once
#include <string>

#include "io/model_config.h"

namespace difu {

// Applies model.params.{parameterization, scale_factor, linear_start, linear_end, timesteps} and
// model.params.unet_config.params.{num_heads, num_head_channels, context_dim,
// use_linear_in_transformer}. Throws Error naming the yaml file on malformed input.
void apply_ldm_yaml(const std::string& path, ModelConfig& cfg);

}  // namespace difu
