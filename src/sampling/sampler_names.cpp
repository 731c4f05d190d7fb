#include "sampling/sampler_names.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace difu {
namespace {

struct SamplerName {
    SamplerKind kind;
    const char* id;
    const char* label;
    std::array<const char*, 4> aliases;  // normalised (see normalise), nullptr-terminated
};

// normalise("DPM++ 2S a") == "dpmpp2sa": lower case, '+' -> 'p', spaces, '_', '-' dropped.
constexpr SamplerName kNames[] = {
    {SamplerKind::Euler, "euler", "Euler", {"euler", "keuler", "sampleeuler", nullptr}},
    {SamplerKind::EulerAncestral, "euler_a", "Euler a", {"eulera", "eulerancestral", "keulera", "sampleeulerancestral"}},
    {SamplerKind::Heun, "heun", "Heun", {"heun", "kheun", "sampleheun", nullptr}},
    {SamplerKind::Dpm2, "dpm2", "DPM2", {"dpm2", "kdpm2", "sampledpm2", nullptr}},
    {SamplerKind::Lms, "lms", "LMS", {"lms", "klms", "samplelms", nullptr}},
    {SamplerKind::DpmPP2M, "dpmpp_2m", "DPM++ 2M", {"dpmpp2m", "kdpmpp2m", "sampledpmpp2m", nullptr}},
    {SamplerKind::DpmPP2SAncestral, "dpmpp_2s_a", "DPM++ 2S a", {"dpmpp2sa", "dpmpp2sancestral", "sampledpmpp2sancestral", nullptr}},
    {SamplerKind::Lcm, "lcm", "LCM", {"lcm", "samplelcm", nullptr, nullptr}},
    {SamplerKind::Ddim, "ddim", "DDIM", {"ddim", nullptr, nullptr, nullptr}},
    {SamplerKind::Plms, "plms", "PLMS", {"plms", nullptr, nullptr, nullptr}},
    {SamplerKind::Ddpm, "ddpm", "DDPM", {"ddpm", nullptr, nullptr, nullptr}},
};

std::string normalise(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '+') out += 'p';
        else if (c != ' ' && c != '_' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

const SamplerName& entry(SamplerKind k) {
    for (const auto& n : kNames)
        if (n.kind == k) return n;
    throw Error::make("unknown sampler kind");
}

}  // namespace

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
                choice.kind = e.kind;
                return choice;
            }
    std::string known;
    for (const auto& e : kNames) known += std::string(known.empty() ? "" : ", ") + e.id;
    throw Error::make("unknown sampler '{}' (known: {}; webui labels such as \"Euler a\" and \"DPM++ 2M\" work too)", name, known);
}

std::string sampler_id(SamplerKind k) { return entry(k).id; }
std::string sampler_label(SamplerKind k) { return entry(k).label; }
bool is_ancestral(SamplerKind k) {
    return k == SamplerKind::EulerAncestral || k == SamplerKind::DpmPP2SAncestral || k == SamplerKind::Lcm ||
           k == SamplerKind::Ddpm;
}
bool is_compvis(SamplerKind k) { return k == SamplerKind::Ddim || k == SamplerKind::Plms || k == SamplerKind::Ddpm; }
int schedule_calls_per_step(SamplerKind k) {
    constexpr int kSecondOrder = 2;
    return k == SamplerKind::Heun || k == SamplerKind::Dpm2 || k == SamplerKind::DpmPP2SAncestral ? kSecondOrder : 1;
}
std::vector<SamplerKind> all_samplers() {
    std::vector<SamplerKind> v;
    for (const auto& e : kNames) v.push_back(e.kind);
    return v;
}

}  // namespace difu
