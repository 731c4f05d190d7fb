#include "sampling/schedule.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace difu {

DiscreteSchedule::DiscreteSchedule(const ScheduleConfig& cfg) {
    if (cfg.timesteps < 2) throw Error::make("a schedule needs at least 2 timesteps, got {}", cfg.timesteps);
    const double a = std::sqrt(cfg.linear_start), b = std::sqrt(cfg.linear_end);
    double prod = 1.0;
    for (int t = 0; t < cfg.timesteps; ++t) {
        const double s = a + (b - a) * t / (cfg.timesteps - 1);
        prod *= 1.0 - s * s;
        alphas_cumprod_.push_back(static_cast<float>(prod));
    }
    derive_sigmas();
}

DiscreteSchedule::DiscreteSchedule(std::vector<float> alphas_cumprod) : alphas_cumprod_(std::move(alphas_cumprod)) {
    if (alphas_cumprod_.size() < 2) throw Error::make("alphas_cumprod needs at least 2 entries");
    for (float a : alphas_cumprod_)
        if (!(a > 0.0f && a < 1.0f)) throw Error::make("alphas_cumprod holds {}, outside (0, 1)", a);
    derive_sigmas();
}

void DiscreteSchedule::derive_sigmas() {
    sigmas_.clear();
    log_sigmas_.clear();
    for (float ac : alphas_cumprod_) {
        const float s = std::sqrt((1.0f - ac) / ac);  // fp32, as CompVisDenoiser computes it
        sigmas_.push_back(s);
        log_sigmas_.push_back(std::log(static_cast<double>(s)));
    }
}

double DiscreteSchedule::sigma_to_t(double sigma) const {
    const double ls = std::log(sigma);
    // low = the last index whose log sigma is <= ls (clamped so that low + 1 exists)
    const auto it = std::upper_bound(log_sigmas_.begin(), log_sigmas_.end(), ls);
    int64_t low = std::clamp<int64_t>((it - log_sigmas_.begin()) - 1, 0, static_cast<int64_t>(log_sigmas_.size()) - 2);
    const double lo = log_sigmas_[low], hi = log_sigmas_[low + 1];
    const double w = std::clamp((lo - ls) / (lo - hi), 0.0, 1.0);
    return (1.0 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

int DiscreteSchedule::nearest_timestep(double sigma) const {
    int best = 0;
    for (int t = 1; t < timesteps(); ++t)
        if (std::abs(sigmas_[static_cast<size_t>(t)] - sigma) < std::abs(sigmas_[static_cast<size_t>(best)] - sigma)) best = t;
    return best;
}

double DiscreteSchedule::t_to_sigma(double t) const {
    t = std::clamp(t, 0.0, static_cast<double>(timesteps() - 1));
    const int64_t low = static_cast<int64_t>(std::floor(t)), high = static_cast<int64_t>(std::ceil(t));
    const double w = t - static_cast<double>(low);
    return std::exp((1.0 - w) * log_sigmas_[low] + w * log_sigmas_[high]);
}

std::vector<float> DiscreteSchedule::discrete_sigmas(int n) const {
    std::vector<float> out;
    const double t_max = timesteps() - 1;
    for (int i = 0; i < n; ++i) {
        // torch.linspace(t_max, 0, n) in float32
        const float t = n == 1 ? static_cast<float>(t_max) : static_cast<float>(t_max - t_max * i / (n - 1));
        out.push_back(static_cast<float>(t_to_sigma(t)));
    }
    out.push_back(0.0f);
    return out;
}

std::vector<float> karras_sigmas(int n, double sigma_min, double sigma_max, double rho) {
    std::vector<float> out;
    const double min_inv = std::pow(sigma_min, 1.0 / rho), max_inv = std::pow(sigma_max, 1.0 / rho);
    for (int i = 0; i < n; ++i) {
        const double ramp = n == 1 ? 0.0 : static_cast<double>(i) / (n - 1);
        out.push_back(static_cast<float>(std::pow(max_inv + ramp * (min_inv - max_inv), rho)));
    }
    out.push_back(0.0f);
    return out;
}

std::vector<float> exponential_sigmas(int n, double sigma_min, double sigma_max) {
    std::vector<float> out;
    const double a = std::log(sigma_max), b = std::log(sigma_min);
    for (int i = 0; i < n; ++i) out.push_back(static_cast<float>(std::exp(n == 1 ? a : a + (b - a) * i / (n - 1))));
    out.push_back(0.0f);
    return out;
}

std::vector<float> simple_sigmas(const DiscreteSchedule& s, int n) {
    const int T = s.timesteps();
    const double stride = static_cast<double>(T) / n;
    std::vector<float> out;
    for (int i = 0; i < n; ++i) out.push_back(s.sigma_at(T - 1 - static_cast<int>(i * stride)));
    out.push_back(0.0f);
    return out;
}

std::vector<float> sgm_uniform_sigmas(const DiscreteSchedule& s, int n) {
    const double start = s.sigma_to_t(s.sigma_max()), end = s.sigma_to_t(s.sigma_min());
    std::vector<float> out;
    for (int i = 0; i < n; ++i) {  // torch.linspace(start, end, n + 1)[:-1] in float32
        const float t = static_cast<float>(start + (end - start) * i / n);
        out.push_back(static_cast<float>(s.t_to_sigma(t)));
    }
    out.push_back(0.0f);
    return out;
}

std::vector<float> sgm_legacy_sigmas(const DiscreteSchedule& s, int n) {
    const int T = s.timesteps();
    std::vector<float> out;
    for (int i = 0; i < n; ++i) {
        // np.linspace(T - 1, 0, n, endpoint=False).astype(int): descending already
        const int t = static_cast<int>((T - 1) - static_cast<double>(T - 1) * i / n);
        const double a = s.alphas_cumprod().at(static_cast<size_t>(t));
        out.push_back(std::sqrt(static_cast<float>((1.0 - a) / a)));  // float32 ratio, then ** 0.5 in float32
    }
    out.push_back(0.0f);
    return out;
}

SigmaScheduler parse_scheduler(const std::string& name) {
    std::string s;
    for (char c : name) s += c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "automatic") return SigmaScheduler::Automatic;
    if (s == "discrete" || s == "normal" || s == "default" || s == "uniform") return SigmaScheduler::Discrete;
    if (s == "karras") return SigmaScheduler::Karras;
    if (s == "exponential") return SigmaScheduler::Exponential;
    if (s == "simple") return SigmaScheduler::Simple;
    if (s == "sgm_uniform") return SigmaScheduler::SgmUniform;
    if (s == "sgm_legacy") return SigmaScheduler::SgmLegacy;
    throw Error::make("unknown scheduler '{}' (known: automatic, discrete, karras, exponential, simple, sgm_uniform, sgm_legacy)",
                      name);
}

std::vector<float> make_sigmas(const DiscreteSchedule& s, SigmaScheduler kind, int steps) {
    if (steps < 1) throw Error::make("steps must be at least 1, got {}", steps);
    switch (kind) {
        case SigmaScheduler::Automatic:
        case SigmaScheduler::Discrete: return s.discrete_sigmas(steps);
        case SigmaScheduler::Karras: return karras_sigmas(steps, s.sigma_min(), s.sigma_max());
        case SigmaScheduler::Exponential: return exponential_sigmas(steps, s.sigma_min(), s.sigma_max());
        case SigmaScheduler::Simple: return simple_sigmas(s, steps);
        case SigmaScheduler::SgmUniform: return sgm_uniform_sigmas(s, steps);
        case SigmaScheduler::SgmLegacy: return sgm_legacy_sigmas(s, steps);
    }
    return {};
}

std::string scheduler_label(SigmaScheduler kind) {
    switch (kind) {
        case SigmaScheduler::Karras: return "Karras";
        case SigmaScheduler::Exponential: return "Exponential";
        case SigmaScheduler::Simple: return "Simple";
        case SigmaScheduler::SgmUniform: return "SGM Uniform";
        case SigmaScheduler::SgmLegacy: return "SGM Legacy";  // not one of webui's; named for what it is
        case SigmaScheduler::Automatic:
        case SigmaScheduler::Discrete: break;
    }
    return "";
}

float start_noise_scale(SigmaScheduler kind, float sigma_0) {
    return kind == SigmaScheduler::SgmLegacy ? std::sqrt(1.0f + sigma_0 * sigma_0) : sigma_0;
}

}  // namespace difu
