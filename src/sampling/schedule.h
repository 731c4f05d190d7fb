// sampling/schedule.h — the model's discrete noise schedule and the sigma schedules built on it.
//   betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2       ("scaled linear", ddpm.py 'linear')
//   alphas_cumprod = cumprod(1 - betas);   sigma(t) = sqrt((1 - ac_t) / ac_t)
// Discrete sigmas, the sigma <-> t maps (log-sigma interpolation) and get_sigmas follow k-diffusion's
// CompVisDenoiser / DiscreteSchedule; Karras and exponential schedules its get_sigmas_* functions.
#pragma once
#include <vector>

#include "io/model_config.h"

namespace difu {

class DiscreteSchedule {
public:
    // From the config's betas (double, as register_schedule), stored as float32 like the model buffer.
    explicit DiscreteSchedule(const ScheduleConfig& cfg);
    // From a checkpoint's own alphas_cumprod buffer.
    explicit DiscreteSchedule(std::vector<float> alphas_cumprod);

    int timesteps() const { return static_cast<int>(alphas_cumprod_.size()); }
    const std::vector<float>& alphas_cumprod() const { return alphas_cumprod_; }
    float sigma_min() const { return sigmas_.front(); }
    float sigma_max() const { return sigmas_.back(); }
    float sigma_at(int t) const { return sigmas_.at(static_cast<size_t>(t)); }

    // Fractional timestep of a sigma: linear interpolation in log sigma between neighbouring steps.
    double sigma_to_t(double sigma) const;
    double t_to_sigma(double t) const;
    // The timestep whose sigma is nearest (k-diffusion's argmin |sigmas - sigma|; the first on a tie).
    int nearest_timestep(double sigma) const;
    // The model's own sigmas at n evenly spaced timesteps from T-1 down to 0, then a final 0.
    std::vector<float> discrete_sigmas(int n) const;

private:
    void derive_sigmas();
    std::vector<float> alphas_cumprod_, sigmas_;
    std::vector<double> log_sigmas_;
};

inline constexpr double kKarrasRho = 7.0;
// Karras et al. 2022, eq. (5): sigma_i = (max^(1/rho) + i/(n-1) (min^(1/rho) - max^(1/rho)))^rho, then 0.
std::vector<float> karras_sigmas(int n, double sigma_min, double sigma_max, double rho = kKarrasRho);
// Log-linear from sigma_max to sigma_min, then 0.
std::vector<float> exponential_sigmas(int n, double sigma_min, double sigma_max);

// ComfyUI / webui "simple": every (1000 / n)-th of the model's sigmas from the top, then 0.
std::vector<float> simple_sigmas(const DiscreteSchedule& s, int n);
// ComfyUI's sgm_uniform (webui "SGM Uniform"): n timesteps evenly spaced from t(sigma_max) towards
// t(sigma_min) without reaching it (linspace over n + 1, last dropped), then 0.
std::vector<float> sgm_uniform_sigmas(const DiscreteSchedule& s, int n);
// sgm's LegacyDDPMDiscretization, the SDXL reference code's: integer timesteps
// int(linspace(999, 0, n, endpoint=False)) (999, 874, ..., 124 for n = 8), their sigmas, then 0.
std::vector<float> sgm_legacy_sigmas(const DiscreteSchedule& s, int n);

// Automatic: the sampler's own choice (see effective_scheduler), the model's sigmas where it has none.
enum class SigmaScheduler { Automatic, Discrete, Karras, Exponential, Simple, SgmUniform, SgmLegacy };
// "automatic", "discrete", "karras", "exponential", "simple", "sgm_uniform", "sgm_legacy" (webui labels too)
SigmaScheduler parse_scheduler(const std::string& name);
std::vector<float> make_sigmas(const DiscreteSchedule& s, SigmaScheduler kind, int steps);
// webui's "Schedule type" label; "" for the model's own (webui's "Automatic" writes none).
std::string scheduler_label(SigmaScheduler kind);
// What the initial noise is multiplied by: sigma_0 (k-diffusion, webui), or sqrt(1 + sigma_0^2) for
// sgm_legacy (sgm's sampling loop, and ComfyUI's when it starts from pure noise).
float start_noise_scale(SigmaScheduler kind, float sigma_0);

}  // namespace difu
