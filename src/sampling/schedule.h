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

enum class SigmaScheduler { Discrete, Karras, Exponential };
SigmaScheduler parse_scheduler(const std::string& name);  // "discrete"/"automatic", "karras", "exponential"
std::vector<float> make_sigmas(const DiscreteSchedule& s, SigmaScheduler kind, int steps);

}  // namespace difu
