// sampling/k_samplers.h — the k-diffusion samplers (crowsonkb/k-diffusion sampling.py), each a short
// loop over a list of sigmas ending in 0, starting from x = noise * sigmas[0]. One file per sampler.
#pragma once
#include <span>

#include "sampling/denoiser.h"

namespace difu {

struct KSamplerArgs {
    const Denoiser& model;
    std::span<const float> sigmas;  // n + 1 values, the last 0
    const StepCallback& callback;   // may be empty
};

Tensor sample_euler(const KSamplerArgs& a, Tensor x);
Tensor sample_euler_ancestral(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta = 1.0f);
Tensor sample_heun(const KSamplerArgs& a, Tensor x);
Tensor sample_dpm_2(const KSamplerArgs& a, Tensor x);
Tensor sample_lms(const KSamplerArgs& a, Tensor x, int order = 4);
Tensor sample_dpmpp_2m(const KSamplerArgs& a, Tensor x);
Tensor sample_dpmpp_2s_ancestral(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta = 1.0f);
Tensor sample_dpm_2_ancestral(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta = 1.0f);
// The SDE samplers; `noise` is meant to be Brownian (see brownian_tree.h), any unit normal source works.
enum class SdeSolver { Midpoint, Heun };
Tensor sample_dpmpp_sde(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta = 1.0f);
Tensor sample_dpmpp_2m_sde(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, SdeSolver solver = SdeSolver::Midpoint,
                           float eta = 1.0f);
Tensor sample_dpmpp_3m_sde(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise, float eta = 1.0f);
// DPM-Solver fast (n model calls) and adaptive, from sigma_max down to sigma_min (> 0; no final denoise).
Tensor sample_dpm_fast(const Denoiser& model, Tensor x, float sigma_min, float sigma_max, int n, const StepCallback& cb,
                       const NoiseSampler& noise, float eta = 0.0f);
Tensor sample_dpm_adaptive(const Denoiser& model, Tensor x, float sigma_min, float sigma_max, const StepCallback& cb,
                           const NoiseSampler& noise, float eta = 0.0f);
// LCM (latent consistency models): x = D(x, sigma_i), then re-noised to sigma_{i+1}.
Tensor sample_lcm(const KSamplerArgs& a, Tensor x, const NoiseSampler& noise);

// k-diffusion get_ancestral_step: split the step to sigma_to into a deterministic part down to
// sigma_down and fresh noise of size sigma_up, sigma_down^2 + sigma_up^2 = sigma_to^2.
struct AncestralStep {
    float down, up;
};
AncestralStep ancestral_step(float sigma_from, float sigma_to, float eta = 1.0f);

// Reports a finished step; throws Cancelled when the callback says stop.
void report_step(const StepCallback& cb, int step, int steps, const Tensor& x, const Tensor& denoised);

}  // namespace difu
