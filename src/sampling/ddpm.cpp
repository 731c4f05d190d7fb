#include "sampling/ddpm.h"

#include <cmath>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

std::vector<int> ddpm_timesteps(const DiscreteSchedule& s, int steps) {
    const int T = s.timesteps();
    if (steps < 1 || steps > T) throw Error::make("DDPM steps must be between 1 and {}, got {}", T, steps);
    std::vector<int> ts;
    for (int i = 0; i < steps; ++i)
        ts.push_back(steps == 1 ? T - 1 : static_cast<int>(std::lround(static_cast<double>(T - 1) * i / (steps - 1))));
    return ts;
}

Tensor sample_ddpm(const EpsModel& eps, const DiscreteSchedule& s, int steps, Tensor x, const NoiseSampler& noise,
                   const StepCallback& callback) {
    const std::vector<int> ts = ddpm_timesteps(s, steps);
    const auto& ac = s.alphas_cumprod();
    for (int k = 0; k < steps; ++k) {
        const int i = steps - 1 - k;  // from the noisiest timestep down
        const double abar = ac[static_cast<size_t>(ts[i])];
        const double abar_prev = i > 0 ? ac[static_cast<size_t>(ts[i - 1])] : 1.0;
        const double beta = 1.0 - abar / abar_prev;
        Tensor e = eps(x, ts[i]);
        // mean = (x - beta / sqrt(1 - abar) e) / sqrt(1 - beta)
        x = axpby(static_cast<float>(1.0 / std::sqrt(1.0 - beta)), x,
                  static_cast<float>(-beta / std::sqrt(1.0 - abar) / std::sqrt(1.0 - beta)), e);
        if (i > 0) {
            const double variance = (1.0 - abar_prev) / (1.0 - abar) * beta;
            x = axpby(1.0f, x, static_cast<float>(std::sqrt(variance)), noise(x.shape(), 0.0f, 0.0f));
        }
        report_step(callback, k, steps, x, e);
    }
    return x;
}

}  // namespace difu
