// sampling/k_dispatch.h — one k-diffusion sampler run by its kind, with webui's arguments: eta 1 for the
// ancestral and SDE samplers (its eta_ancestral), the Heun solver for "DPM++ 2M SDE Heun", and DPM fast /
// adaptive from the first to the last non-zero sigma with one model call per step.
#pragma once
#include "sampling/k_samplers.h"
#include "sampling/sampler_names.h"

namespace difu {

// Throws Error for the timestep samplers (DDIM, PLMS, DDPM, UniPC), which have no sigma loop.
Tensor run_k_sampler(SamplerKind kind, const KSamplerArgs& a, Tensor x, const NoiseSampler& noise);

}  // namespace difu
