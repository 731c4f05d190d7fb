#include "sampling/k_dispatch.h"

#include "core/error.h"

namespace difu {

Tensor run_k_sampler(SamplerKind kind, const KSamplerArgs& a, Tensor x, const NoiseSampler& noise) {
    constexpr float kEtaAncestral = 1.0f;  // webui's eta_ancestral default (also DPM fast / adaptive's eta)
    const int n = static_cast<int>(a.sigmas.size()) - 1;
    switch (kind) {
        case SamplerKind::Euler: return sample_euler(a, x);
        case SamplerKind::EulerAncestral: return sample_euler_ancestral(a, x, noise, kEtaAncestral);
        case SamplerKind::Heun: return sample_heun(a, x);
        case SamplerKind::Dpm2: return sample_dpm_2(a, x);
        case SamplerKind::Dpm2Ancestral: return sample_dpm_2_ancestral(a, x, noise, kEtaAncestral);
        case SamplerKind::Lms: return sample_lms(a, x);
        case SamplerKind::DpmPP2M: return sample_dpmpp_2m(a, x);
        case SamplerKind::DpmPP2SAncestral: return sample_dpmpp_2s_ancestral(a, x, noise, kEtaAncestral);
        case SamplerKind::DpmPPSde: return sample_dpmpp_sde(a, x, noise, kEtaAncestral);
        case SamplerKind::DpmPP2MSde: return sample_dpmpp_2m_sde(a, x, noise, SdeSolver::Midpoint, kEtaAncestral);
        case SamplerKind::DpmPP2MSdeHeun: return sample_dpmpp_2m_sde(a, x, noise, SdeSolver::Heun, kEtaAncestral);
        case SamplerKind::DpmPP3MSde: return sample_dpmpp_3m_sde(a, x, noise, kEtaAncestral);
        case SamplerKind::DpmFast:
        case SamplerKind::DpmAdaptive: {
            if (n < 2 || a.sigmas[static_cast<size_t>(n - 1)] <= 0.0f)
                throw Error::make("{} needs at least 2 steps above sigma 0", sampler_label(kind));
            const float sigma_min = a.sigmas[static_cast<size_t>(n - 1)], sigma_max = a.sigmas[0];
            return kind == SamplerKind::DpmFast ? sample_dpm_fast(a.model, x, sigma_min, sigma_max, n, a.callback, noise, kEtaAncestral)
                                                : sample_dpm_adaptive(a.model, x, sigma_min, sigma_max, a.callback, noise, kEtaAncestral);
        }
        case SamplerKind::Lcm: return sample_lcm(a, x, noise);
        case SamplerKind::Ddim:
        case SamplerKind::Plms:
        case SamplerKind::Ddpm:
        case SamplerKind::UniPc:
        case SamplerKind::UniPcBh2: break;
    }
    throw Error::make("sampler {} has no k-diffusion loop", sampler_id(kind));
}

}  // namespace difu
