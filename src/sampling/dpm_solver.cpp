// sampling/dpm_solver.cpp — k-diffusion's DPMSolver (Lu et al. 2022, https://arxiv.org/abs/2206.00927)
// behind "DPM fast" (sample_dpm_fast) and "DPM adaptive" (sample_dpm_adaptive). Time t = -log sigma,
// eps(x, t) = (x - D(x, sigma(t))) / sigma(t); steps of order 1-3 from t to t_next, h = t_next - t:
//   1: x - sigma(t_next) expm1(h) eps
//   2: u1 = x - sigma(s1) expm1(r1 h) eps at s1 = t + r1 h;
//      x - sigma(t_next) expm1(h) eps - sigma(t_next)/(2 r1) expm1(h) (eps(u1, s1) - eps)
//   3: u1 as above (r1 = 1/3); u2 = x - sigma(s2) expm1(r2 h) eps - sigma(s2) (r2/r1)(expm1(r2 h)/(r2 h) - 1)(eps_r1 - eps);
//      x - sigma(t_next) expm1(h) eps - sigma(t_next)/r2 (expm1(h)/h - 1)(eps(u2, s2) - eps)   (r2 = 2/3)
// Both run from sigma_max down to sigma_min (not 0) and, with eta > 0 (webui's default 1), add ancestral
// noise after each step.
#include <algorithm>
#include <cmath>
#include <map>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {
namespace {

class DpmSolver {
public:
    explicit DpmSolver(const Denoiser& model) : model_(model) {}
    static double sigma(double t) { return std::exp(-t); }
    static double t_of(double sigma) { return -std::log(sigma); }

    // One step of the given order; eps values at this step's points are cached by name, as k-diffusion's
    // eps_cache, so the embedded lower-order step of the adaptive solver reuses the model calls.
    Tensor step(int order, const Tensor& x, double t, double t_next, double r1 = 0.0) {
        const double h = t_next - t;
        const Tensor& e = eps("eps", x, t);
        const float sn = static_cast<float>(sigma(t_next));
        if (order == 1) return axpby(1.0f, x, -sn * static_cast<float>(std::expm1(h)), e);
        if (order == 2) {
            if (r1 == 0.0) r1 = 0.5;
            const double s1 = t + r1 * h;
            Tensor u1 = axpby(1.0f, x, -static_cast<float>(sigma(s1) * std::expm1(r1 * h)), e);
            const Tensor& e1 = eps("eps_r1", u1, s1);
            const float c = sn / static_cast<float>(2 * r1) * static_cast<float>(std::expm1(h));
            return axpbypcz(1.0f, x, -sn * static_cast<float>(std::expm1(h)) + c, e, -c, e1);
        }
        const double ra = 1.0 / 3.0, rb = 2.0 / 3.0, s1 = t + ra * h, s2 = t + rb * h;
        Tensor u1 = axpby(1.0f, x, -static_cast<float>(sigma(s1) * std::expm1(ra * h)), e);
        const Tensor& e1 = eps("eps_r1", u1, s1);
        const float c1 = static_cast<float>(sigma(s2) * (rb / ra) * (std::expm1(rb * h) / (rb * h) - 1));
        Tensor u2 = axpbypcz(1.0f, x, -static_cast<float>(sigma(s2) * std::expm1(rb * h)) + c1, e, -c1, e1);
        const Tensor& e2 = eps("eps_r2", u2, s2);
        const float c2 = sn / static_cast<float>(rb) * static_cast<float>(std::expm1(h) / h - 1);
        return axpbypcz(1.0f, x, -sn * static_cast<float>(std::expm1(h)) + c2, e, -c2, e2);
    }
    void new_step() { cache_.clear(); }
    const Tensor& eps(const char* key, const Tensor& x, double t) {
        auto it = cache_.find(key);
        if (it != cache_.end()) return it->second;
        const float s = static_cast<float>(sigma(t));
        return cache_.emplace(key, scaled(axpby(1.0f, x, -1.0f, model_(x, s)), 1.0f / s)).first->second;
    }

private:
    const Denoiser& model_;
    std::map<std::string, Tensor> cache_;
};

// k-diffusion's PIDStepSizeController with its defaults (pcoeff 0, icoeff 1, dcoeff 0: an I controller).
class StepSizeController {
public:
    StepSizeController(double h, double order, double accept_safety)
        : h_(h), b1_(1.0 / order), accept_safety_(accept_safety) {}
    double h() const { return h_; }
    bool propose(double error) {
        constexpr double kEps = 1e-8;
        const double factor = 1.0 + std::atan(std::pow(1.0 / (error + kEps), b1_) - 1.0);  // limiter
        h_ *= factor;
        return factor >= accept_safety_;
    }

private:
    double h_, b1_, accept_safety_;
};

// Ancestral split of a step t -> t_next: the solver's target t_next_ and the noise to add.
std::pair<double, float> ancestral_target(double t, double t_next, double t_end, float eta) {
    if (eta == 0.0f) return {t_next, 0.0f};
    const AncestralStep s = ancestral_step(static_cast<float>(DpmSolver::sigma(t)), static_cast<float>(DpmSolver::sigma(t_next)), eta);
    const double target = std::min(t_end, DpmSolver::t_of(s.down));
    const double sn = DpmSolver::sigma(t_next), st = DpmSolver::sigma(target);
    return {target, static_cast<float>(std::sqrt(sn * sn - st * st))};
}

}  // namespace

Tensor sample_dpm_fast(const Denoiser& model, Tensor x, float sigma_min, float sigma_max, int n, const StepCallback& cb,
                       const NoiseSampler& noise, float eta) {
    DpmSolver solver(model);
    const double t_start = DpmSolver::t_of(sigma_max), t_end = DpmSolver::t_of(sigma_min);
    const int m = n / 3 + 1;  // orders: 3s, then what is left of the n model calls
    std::vector<int> orders(static_cast<size_t>(n % 3 == 0 ? m - 2 : m - 1), 3);
    if (n % 3 == 0) orders.insert(orders.end(), {2, 1});
    else orders.push_back(n % 3);
    for (size_t i = 0; i < orders.size(); ++i) {
        solver.new_step();
        const double t = t_start + (t_end - t_start) * static_cast<double>(i) / m;  // linspace(t_start, t_end, m + 1)
        const double t_next = t_start + (t_end - t_start) * static_cast<double>(i + 1) / m;
        const auto [target, up] = ancestral_target(t, t_next, t_end, eta);
        const Tensor& e = solver.eps("eps", x, t);
        Tensor denoised = axpby(1.0f, x, -static_cast<float>(DpmSolver::sigma(t)), e);
        x = solver.step(orders[i], x, t, target);
        if (up > 0.0f)
            x = axpby(1.0f, x, up, noise(x.shape(), static_cast<float>(DpmSolver::sigma(t)), static_cast<float>(DpmSolver::sigma(t_next))));
        report_step(cb, static_cast<int>(i), static_cast<int>(orders.size()), x, denoised);
    }
    return x;
}

Tensor sample_dpm_adaptive(const Denoiser& model, Tensor x, float sigma_min, float sigma_max, const StepCallback& cb,
                           const NoiseSampler& noise, float eta) {
    constexpr int kOrder = 3;
    constexpr double kRtol = 0.05, kAtol = 0.0078, kHInit = 0.05, kAcceptSafety = 0.81;
    constexpr double kDone = 1e-5;
    constexpr int kExpectedSteps = 20;  // for the progress bar only: the solver picks its own steps
    DpmSolver solver(model);
    const double t_start = DpmSolver::t_of(sigma_max), t_end = DpmSolver::t_of(sigma_min);
    StepSizeController pid(kHInit, eta != 0.0f ? 1.5 : kOrder, kAcceptSafety);
    double s = t_start;
    Tensor x_prev = x;
    int step = 0;
    while (s < t_end - kDone) {
        solver.new_step();
        const double t = std::min(t_end, s + pid.h());
        const auto [target, up] = ancestral_target(s, t, t_end, eta);
        const Tensor& e = solver.eps("eps", x, s);
        Tensor denoised = axpby(1.0f, x, -static_cast<float>(DpmSolver::sigma(s)), e);
        Tensor x_low = solver.step(2, x, s, target, 1.0 / 3.0);
        Tensor x_high = solver.step(3, x, s, target);
        // error = || (x_low - x_high) / max(atol, rtol max(|x_low|, |x_prev|)) || / sqrt(numel)
        double sum = 0.0;
        auto lo = x_low.f32(), hi = x_high.f32(), prev = x_prev.f32();
        for (size_t i = 0; i < lo.size(); ++i) {
            const double delta = std::max(kAtol, kRtol * std::max(std::fabs(lo[i]), std::fabs(prev[i])));
            const double d = (lo[i] - hi[i]) / delta;
            sum += d * d;
        }
        const double error = std::sqrt(sum) / std::sqrt(static_cast<double>(lo.size()));
        if (pid.propose(error)) {
            x_prev = x_low;
            x = x_high;
            if (up > 0.0f)
                x = axpby(1.0f, x, up, noise(x.shape(), static_cast<float>(DpmSolver::sigma(s)), static_cast<float>(DpmSolver::sigma(t))));
            s = t;
        }
        ++step;
        const bool done = !(s < t_end - kDone);
        report_step(cb, step - 1, done ? step : std::max(kExpectedSteps, step + 1), x, denoised);
    }
    return x;
}

}  // namespace difu
