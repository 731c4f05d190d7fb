#include "sampling/sampler_names.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace difu {
namespace {

struct SamplerName {
    SamplerInfo info;
    std::array<const char*, 5> aliases;  // normalised (see normalise), nullptr-terminated
};

constexpr auto kKarras = SigmaScheduler::Karras, kExponential = SigmaScheduler::Exponential;
constexpr auto kNone = SamplerNoise::None, kAncestral = SamplerNoise::Ancestral, kBrownian = SamplerNoise::Brownian;
constexpr std::optional<SigmaScheduler> kOwn = std::nullopt;

// webui 1.10's samplers_k_diffusion / samplers_timesteps options (scheduler, discard_next_to_last_sigma,
// second_order, brownian_noise); normalise("DPM++ 2S a") == "dpmpp2sa": lower case, '+' -> 'p', spaces,
// '_', '-' dropped.
const SamplerName kNames[] = {
    {{SamplerKind::Euler, "euler", "Euler", kOwn, false, 1, kNone, false}, {"euler", "keuler", "sampleeuler"}},
    {{SamplerKind::EulerAncestral, "euler_a", "Euler a", kOwn, false, 1, kAncestral, false},
     {"eulera", "eulerancestral", "keulera", "sampleeulerancestral", "keulerancestral"}},
    {{SamplerKind::Heun, "heun", "Heun", kOwn, false, 2, kNone, false}, {"heun", "kheun", "sampleheun"}},
    {{SamplerKind::Dpm2, "dpm2", "DPM2", kKarras, true, 2, kNone, false}, {"dpm2", "kdpm2", "sampledpm2"}},
    {{SamplerKind::Dpm2Ancestral, "dpm2_a", "DPM2 a", kKarras, true, 2, kAncestral, false},
     {"dpm2a", "dpm2ancestral", "kdpm2a", "kdpm2ancestral", "sampledpm2ancestral"}},
    {{SamplerKind::Lms, "lms", "LMS", kOwn, false, 1, kNone, false}, {"lms", "klms", "samplelms"}},
    {{SamplerKind::DpmPP2M, "dpmpp_2m", "DPM++ 2M", kKarras, false, 1, kNone, false}, {"dpmpp2m", "kdpmpp2m", "sampledpmpp2m"}},
    {{SamplerKind::DpmPP2SAncestral, "dpmpp_2s_a", "DPM++ 2S a", kKarras, false, 2, kAncestral, false},
     {"dpmpp2sa", "dpmpp2sancestral", "kdpmpp2sa", "sampledpmpp2sancestral"}},
    {{SamplerKind::DpmPPSde, "dpmpp_sde", "DPM++ SDE", kKarras, false, 2, kBrownian, false},
     {"dpmppsde", "kdpmppsde", "sampledpmppsde", "dpmppsdegpu"}},
    {{SamplerKind::DpmPP2MSde, "dpmpp_2m_sde", "DPM++ 2M SDE", kExponential, false, 1, kBrownian, false},
     {"dpmpp2msde", "kdpmpp2msde", "sampledpmpp2msde", "dpmpp2msdegpu"}},
    {{SamplerKind::DpmPP2MSdeHeun, "dpmpp_2m_sde_heun", "DPM++ 2M SDE Heun", kExponential, false, 1, kBrownian, false},
     {"dpmpp2msdeheun", "kdpmpp2msdeheun", "dpmpp2msdeheungpu"}},
    {{SamplerKind::DpmPP3MSde, "dpmpp_3m_sde", "DPM++ 3M SDE", kExponential, true, 1, kBrownian, false},
     {"dpmpp3msde", "kdpmpp3msde", "sampledpmpp3msde", "dpmpp3msdegpu"}},
    {{SamplerKind::DpmFast, "dpm_fast", "DPM fast", kOwn, false, 1, kAncestral, false}, {"dpmfast", "kdpmfast", "sampledpmfast"}},
    {{SamplerKind::DpmAdaptive, "dpm_adaptive", "DPM adaptive", kOwn, false, 1, kAncestral, false},
     {"dpmadaptive", "kdpmad", "kdpmadaptive", "sampledpmadaptive"}},
    {{SamplerKind::Lcm, "lcm", "LCM", kOwn, false, 1, kAncestral, false}, {"lcm", "samplelcm"}},
    {{SamplerKind::Ddim, "ddim", "DDIM", kOwn, false, 1, kNone, true}, {"ddim"}},
    {{SamplerKind::Plms, "plms", "PLMS", kOwn, false, 1, kNone, true}, {"plms"}},
    {{SamplerKind::Ddpm, "ddpm", "DDPM", kOwn, false, 1, kAncestral, true}, {"ddpm"}},
    {{SamplerKind::UniPc, "uni_pc", "UniPC", kOwn, false, 1, kNone, true}, {"unipc", "unipcbh1"}},
    {{SamplerKind::UniPcBh2, "uni_pc_bh2", "UniPC BH2", kOwn, false, 1, kNone, true}, {"unipcbh2"}},
};

std::string normalise(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '+') out += 'p';
        else if (c != ' ' && c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace

const SamplerInfo& sampler_info(SamplerKind k) {
    for (const auto& n : kNames)
        if (n.info.kind == k) return n.info;
    throw Error::make("unknown sampler kind");
}

SamplerChoice parse_sampler(const std::string& name) {
    std::string n = normalise(name);
    SamplerChoice choice{SamplerKind::Euler, std::nullopt};
    // webui's older labels append the schedule: "DPM++ 2M Karras", "Euler a Exponential".
    for (auto [suffix, sched] : {std::pair{"karras", SigmaScheduler::Karras}, {"exponential", SigmaScheduler::Exponential}}) {
        const std::string s = suffix;
        if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) {
            n.resize(n.size() - s.size());
            choice.scheduler = sched;
        }
    }
    for (const auto& e : kNames)
        for (const char* alias : e.aliases)
            if (alias && n == alias) {
                choice.kind = e.info.kind;
                return choice;
            }
    std::string known;
    for (const auto& e : kNames) known += std::string(known.empty() ? "" : ", ") + e.info.id;
    throw Error::make("unknown sampler '{}' (known: {}; webui labels such as \"Euler a\" and \"DPM++ 2M\" work too)", name, known);
}

std::string sampler_id(SamplerKind k) { return sampler_info(k).id; }
std::string sampler_label(SamplerKind k) { return sampler_info(k).label; }
bool is_ancestral(SamplerKind k) { return sampler_info(k).noise != SamplerNoise::None; }
bool is_compvis(SamplerKind k) { return sampler_info(k).timesteps; }
int schedule_calls_per_step(SamplerKind k) { return sampler_info(k).calls_per_step; }

SigmaScheduler effective_scheduler(const SamplerChoice& choice, SigmaScheduler requested) {
    if (choice.scheduler) return *choice.scheduler;
    if (requested != SigmaScheduler::Automatic) return requested;
    return sampler_info(choice.kind).automatic.value_or(SigmaScheduler::Discrete);
}

std::vector<SamplerKind> all_samplers() {
    std::vector<SamplerKind> v;
    for (const auto& e : kNames) v.push_back(e.info.kind);
    return v;
}

}  // namespace difu
