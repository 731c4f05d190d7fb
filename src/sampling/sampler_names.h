// sampling/sampler_names.h — sampler names as users type them: difu / sd.cpp style ("euler_a",
// "dpm++2m"), webui labels ("Euler a", "DPM++ 2M", "DPM++ 2M Karras") and k-diffusion function names
// ("sample_dpmpp_2m", "k_lms").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "sampling/schedule.h"

namespace difu {

enum class SamplerKind { Euler, EulerAncestral, Heun, Dpm2, Lms, DpmPP2M, DpmPP2SAncestral, Lcm, Ddim, Plms, Ddpm };

struct SamplerChoice {
    SamplerKind kind;
    std::optional<SigmaScheduler> scheduler;  // set when the name carries one ("DPM++ 2M Karras")
};

SamplerChoice parse_sampler(const std::string& name);  // throws Error listing the known names
std::string sampler_id(SamplerKind k);                 // "euler_a", "dpmpp_2m", ...
std::string sampler_label(SamplerKind k);              // webui's label: "Euler a", "DPM++ 2M", ...
bool is_ancestral(SamplerKind k);                      // draws fresh noise every step
bool is_compvis(SamplerKind k);                        // DDIM / PLMS / DDPM: integer timesteps, no sigma scheduler
// webui's step_multiplier: prompt schedules span steps × this, counted in model calls (2 for the
// second-order samplers, whose steps call the model twice: Heun, DPM2, DPM++ 2S a).
int schedule_calls_per_step(SamplerKind k);
std::vector<SamplerKind> all_samplers();

}  // namespace difu
