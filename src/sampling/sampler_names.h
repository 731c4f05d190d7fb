// sampling/sampler_names.h — the samplers as users name them and as webui describes them: difu /
// sd.cpp style ids ("euler_a", "dpmpp_2m"), webui labels ("Euler a", "DPM++ 2M", "DPM++ 2M Karras"),
// k-diffusion function names ("sample_dpmpp_2m", "k_lms") and ComfyUI names ("dpmpp_2m_sde_gpu",
// "uni_pc_bh2"), each with what webui's sampler table says of it (its automatic schedule, whether it
// drops the next-to-last sigma, how many model calls a step makes, which noise it draws).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "sampling/schedule.h"

namespace difu {

enum class SamplerKind {
    Euler, EulerAncestral, Heun, Dpm2, Dpm2Ancestral, Lms, DpmPP2M, DpmPP2SAncestral,
    DpmPPSde, DpmPP2MSde, DpmPP2MSdeHeun, DpmPP3MSde, DpmFast, DpmAdaptive, Lcm,
    Ddim, Plms, Ddpm, UniPc, UniPcBh2
};

enum class SamplerNoise {
    None,       // deterministic
    Ancestral,  // a fresh normal draw per step (the run's step generator)
    Brownian,   // increments of one Brownian path per image (torchsde's tree, seeded with the seed)
};

struct SamplerInfo {
    SamplerKind kind;
    const char* id;     // difu's name
    const char* label;  // webui's
    std::optional<SigmaScheduler> automatic;  // the schedule webui's "Automatic" picks; none: the model's own
    bool discard_penultimate_sigma;           // webui / ComfyUI run steps + 1 sigmas without the next-to-last
    int calls_per_step;                       // webui's second_order: prompt schedules count model calls
    SamplerNoise noise;
    bool timesteps;  // runs on the model's timesteps (DDIM, PLMS, DDPM, UniPC), not on a sigma schedule
};

struct SamplerChoice {
    SamplerKind kind;
    std::optional<SigmaScheduler> scheduler;  // set when the name carries one ("DPM++ 2M Karras")
};

SamplerChoice parse_sampler(const std::string& name);  // throws Error listing the known names
const SamplerInfo& sampler_info(SamplerKind k);
std::string sampler_id(SamplerKind k);                 // "euler_a", "dpmpp_2m", ...
std::string sampler_label(SamplerKind k);              // webui's label: "Euler a", "DPM++ 2M", ...
bool is_ancestral(SamplerKind k);                      // draws fresh noise every step
bool is_compvis(SamplerKind k);                        // on the model's timesteps: no sigma scheduler
// webui's step_multiplier: prompt schedules span steps × this, counted in model calls (2 for the
// second-order samplers, whose steps call the model twice: Heun, DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE).
int schedule_calls_per_step(SamplerKind k);
// The schedule a run uses: the one the sampler's name carries, else the requested one, where
// Automatic means the sampler's own (webui: "DPM++ 2M" -> Karras, "DPM++ 2M SDE" -> Exponential).
SigmaScheduler effective_scheduler(const SamplerChoice& choice, SigmaScheduler requested);
std::vector<SamplerKind> all_samplers();

}  // namespace difu
