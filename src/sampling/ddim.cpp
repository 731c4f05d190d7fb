#include "sampling/ddim.h"

#include <cmath>
#include <deque>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

DdimSchedule make_ddim_schedule(const DiscreteSchedule& sched, int steps, float eta) {
    const int T = sched.timesteps();
    if (steps < 1 || steps > T) throw Error::make("DDIM/PLMS steps must be between 1 and {}, got {}", T, steps);
    DdimSchedule s;
    const int stride = T / steps;  // the original's uniform spacing; when steps does not divide T this
    for (int t = 0; t < T; t += stride) s.timesteps.push_back(t + 1);  // gives more than `steps` timesteps
    const auto& ac = sched.alphas_cumprod();
    for (size_t i = 0; i < s.timesteps.size(); ++i) {
        const float a = ac[static_cast<size_t>(s.timesteps[i])];
        const float a_prev = i == 0 ? ac[0] : ac[static_cast<size_t>(s.timesteps[i - 1])];
        s.alphas.push_back(a);
        s.alphas_prev.push_back(a_prev);
        s.sigmas.push_back(eta * std::sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev)));
    }
    return s;
}

namespace {

// One DDIM update at timestep index `index` with the (possibly combined) eps `e`.
void ddim_update(const DdimSchedule& s, int index, const Tensor& x, const Tensor& e, const NoiseSampler* noise,
                 Tensor* x_prev, Tensor* pred_x0) {
    const float a_t = s.alphas[index], a_prev = s.alphas_prev[index], sigma_t = s.sigmas[index];
    *pred_x0 = axpby(1.0f / std::sqrt(a_t), x, -std::sqrt(1 - a_t) / std::sqrt(a_t), e);
    *x_prev = axpby(std::sqrt(a_prev), *pred_x0, std::sqrt(1 - a_prev - sigma_t * sigma_t), e);
    if (sigma_t > 0 && noise) *x_prev = axpby(1.0f, *x_prev, sigma_t, (*noise)(x.shape(), sigma_t, 0.0f));
}

}  // namespace

DdimResult sample_ddim(const EpsModel& eps, const DdimSchedule& s, Tensor x, int t_start, const NoiseSampler& noise,
                       const StepCallback& callback, bool record) {
    DdimResult r;
    for (int i = 0; i < t_start; ++i) {
        const int index = t_start - 1 - i;
        Tensor e = eps(x, s.timesteps[static_cast<size_t>(index)]), x_prev, pred_x0;
        ddim_update(s, index, x, e, &noise, &x_prev, &pred_x0);
        x = std::move(x_prev);
        if (record) { r.steps_x.push_back(x); r.steps_pred_x0.push_back(pred_x0); }
        report_step(callback, i, t_start, x, pred_x0);
    }
    r.x = std::move(x);
    return r;
}

DdimResult sample_plms(const EpsModel& eps, const DdimSchedule& s, Tensor x, int t_start, const StepCallback& callback,
                       bool record) {
    for (float sigma : s.sigmas)
        if (sigma != 0) throw Error::make("PLMS needs eta = 0");
    DdimResult r;
    std::deque<Tensor> old_eps;  // newest last, at most 3 kept
    for (int i = 0; i < t_start; ++i) {
        const int index = t_start - 1 - i;
        const int t = s.timesteps[static_cast<size_t>(index)];
        const int t_next = s.timesteps[static_cast<size_t>(std::max(index - 1, 0))];  // the last step's "next" is itself
        Tensor e = eps(x, t), e_prime, x_prev, pred_x0;
        const size_t n = old_eps.size();
        if (n == 0) {  // pseudo improved Euler: average with eps at the step's end point
            ddim_update(s, index, x, e, nullptr, &x_prev, &pred_x0);
            e_prime = axpby(0.5f, e, 0.5f, eps(x_prev, t_next));
        } else if (n == 1) {
            e_prime = axpby(1.5f, e, -0.5f, old_eps[0]);
        } else if (n == 2) {
            e_prime = axpbypcz(23.0f / 12, e, -16.0f / 12, old_eps[1], 5.0f / 12, old_eps[0]);
        } else {
            e_prime = axpbypcz(55.0f / 24, e, -59.0f / 24, old_eps[2], 37.0f / 24, old_eps[1]);
            e_prime = axpby(1.0f, e_prime, -9.0f / 24, old_eps[0]);
        }
        ddim_update(s, index, x, e_prime, nullptr, &x_prev, &pred_x0);
        x = std::move(x_prev);
        old_eps.push_back(e);
        if (old_eps.size() > 3) old_eps.pop_front();
        if (record) { r.steps_x.push_back(x); r.steps_pred_x0.push_back(pred_x0); }
        report_step(callback, i, t_start, x, pred_x0);
    }
    r.x = std::move(x);
    return r;
}

Tensor ddim_stochastic_encode(const DdimSchedule& s, const Tensor& x0, int t_enc, const Tensor& noise) {
    if (t_enc < 0 || t_enc >= static_cast<int>(s.alphas.size()))
        throw Error::make("img2img start index {} is outside the {} DDIM steps", t_enc, s.alphas.size());
    const float a = s.alphas[static_cast<size_t>(t_enc)];
    return axpby(std::sqrt(a), x0, std::sqrt(1 - a), noise);
}

}  // namespace difu
