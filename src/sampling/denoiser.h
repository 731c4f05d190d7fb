// sampling/denoiser.h — what the samplers see of the model. k-diffusion samplers work on
// D(x, sigma) (the denoised estimate of x); the CompVis DDIM/PLMS samplers on eps(x, t). Both hide the
// UNet, the prompts and classifier-free guidance behind one call, so a sampler is only its loop.
#pragma once
#include <functional>

#include "core/tensor.h"

namespace difu {

// k-diffusion: D(x, sigma) for x [B, 4, h, w]; sigma the noise level of the whole batch.
using Denoiser = std::function<Tensor(const Tensor& x, float sigma)>;

// CompVis: the guided eps prediction at timestep t (integer for DDIM / PLMS / DDPM, fractional for UniPC).
using EpsModel = std::function<Tensor(const Tensor& x, float t)>;

// Source of the ancestral samplers' per-step noise (sigma, sigma_next are k-diffusion's arguments).
using NoiseSampler = std::function<Tensor(const Shape& shape, float sigma, float sigma_next)>;

// Called after every step with (step index, steps, x, denoised); returns false to stop (cancel).
using StepCallback = std::function<bool(int step, int steps, const Tensor& x, const Tensor& denoised)>;

struct Cancelled {};  // thrown by a sampler whose callback asked to stop

}  // namespace difu
