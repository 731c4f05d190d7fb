#include "sampling/uni_pc.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {

double unipc_log_alpha(const std::vector<float>& ac, double t) {
    // interpolate_fn over keypoints t_i = (i + 1)/N, extended linearly beyond both ends.
    const size_t n = ac.size();
    auto key_t = [n](size_t i) { return static_cast<double>(i + 1) / static_cast<double>(n); };
    auto key_y = [&ac](size_t i) { return 0.5 * std::log(static_cast<double>(ac[i])); };
    const double pos = t * static_cast<double>(n) - 1.0;  // fractional keypoint index
    const size_t i = static_cast<size_t>(std::clamp(std::floor(pos), 0.0, static_cast<double>(n - 2)));
    return key_y(i) + (t - key_t(i)) * (key_y(i + 1) - key_y(i)) / (key_t(i + 1) - key_t(i));
}

namespace {

class VpSchedule {
public:
    explicit VpSchedule(const std::vector<float>& ac) : ac_(ac) {}
    double log_alpha(double t) const { return unipc_log_alpha(ac_, t); }
    double alpha(double t) const { return std::exp(log_alpha(t)); }
    double sigma(double t) const { return std::sqrt(1.0 - std::exp(2.0 * log_alpha(t))); }
    double lambda(double t) const { return log_alpha(t) - 0.5 * std::log(1.0 - std::exp(2.0 * log_alpha(t))); }
    double total_n() const { return static_cast<double>(ac_.size()); }

private:
    const std::vector<float>& ac_;
};

// Solves the small system R rho = b (Gaussian elimination with partial pivoting).
std::vector<double> solve(std::vector<std::vector<double>> r, std::vector<double> b) {
    const size_t n = b.size();
    for (size_t c = 0; c < n; ++c) {
        size_t p = c;
        for (size_t k = c + 1; k < n; ++k)
            if (std::fabs(r[k][c]) > std::fabs(r[p][c])) p = k;
        std::swap(r[c], r[p]);
        std::swap(b[c], b[p]);
        if (r[c][c] == 0.0) throw Error::make("UniPC: singular step system (repeated timesteps?)");
        for (size_t k = c + 1; k < n; ++k) {
            const double f = r[k][c] / r[c][c];
            for (size_t j = c; j < n; ++j) r[k][j] -= f * r[c][j];
            b[k] -= f * b[c];
        }
    }
    std::vector<double> x(n);
    for (size_t c = n; c-- > 0;) {
        double s = b[c];
        for (size_t j = c + 1; j < n; ++j) s -= r[c][j] * x[j];
        x[c] = s / r[c][c];
    }
    return x;
}

// sum_k w[k] D[k]
Tensor combine(const std::vector<double>& w, const std::vector<Tensor>& d) {
    Tensor out = scaled(d[0], static_cast<float>(w[0]));
    for (size_t k = 1; k < w.size(); ++k) out = axpby(1.0f, out, static_cast<float>(w[k]), d[k]);
    return out;
}

class UniPc {
public:
    UniPc(const EpsModel& eps, const VpSchedule& ns, UniPcVariant variant) : eps_(eps), ns_(ns), variant_(variant) {}

    // x0 = (x - sigma_t eps(x, (t - 1/N) 1000)) / alpha_t
    Tensor model_fn(const Tensor& x, double t) const {
        const float t_input = static_cast<float>((t - 1.0 / ns_.total_n()) * 1000.0);
        Tensor e = eps_(x, t_input);
        return scaled(axpby(1.0f, x, -static_cast<float>(ns_.sigma(t)), e), 1.0f / static_cast<float>(ns_.alpha(t)));
    }

    // multistep_uni_pc_bh_update with predict_x0; returns x_t and the corrector's model value (if run).
    std::pair<Tensor, std::optional<Tensor>> update(const Tensor& x, const std::vector<Tensor>& model_prev,
                                                    const std::vector<double>& t_prev, double t, int order,
                                                    bool use_corrector) const {
        const double t0 = t_prev.back(), lambda_0 = ns_.lambda(t0);
        const Tensor& m0 = model_prev.back();
        const double sigma_0 = ns_.sigma(t0), sigma_t = ns_.sigma(t), alpha_t = ns_.alpha(t);
        const double h = ns_.lambda(t) - lambda_0;
        std::vector<double> rks;
        std::vector<Tensor> d1s;  // (m_i - m_0) / r_i
        for (int i = 1; i < order; ++i) {
            const size_t k = model_prev.size() - 1 - static_cast<size_t>(i);
            const double rk = (ns_.lambda(t_prev[k]) - lambda_0) / h;
            rks.push_back(rk);
            d1s.push_back(scaled(axpby(1.0f, model_prev[k], -1.0f, m0), static_cast<float>(1.0 / rk)));
        }
        rks.push_back(1.0);
        const double hh = -h, h_phi_1 = std::expm1(hh);
        const double b_h = variant_ == UniPcVariant::Bh1 ? hh : std::expm1(hh);
        std::vector<std::vector<double>> r(static_cast<size_t>(order), std::vector<double>(rks.size()));
        std::vector<double> b(static_cast<size_t>(order));
        double h_phi_k = h_phi_1 / hh - 1.0, factorial = 1.0;
        for (int i = 1; i <= order; ++i) {
            for (size_t j = 0; j < rks.size(); ++j) r[static_cast<size_t>(i - 1)][j] = std::pow(rks[j], i - 1);
            b[static_cast<size_t>(i - 1)] = h_phi_k * factorial / b_h;
            factorial *= i + 1;
            h_phi_k = h_phi_k / hh - 1.0 / factorial;
        }
        // x_t_ = (sigma_t / sigma_0) x - alpha_t h phi_1 m_0
        const Tensor x_base = axpby(static_cast<float>(sigma_t / sigma_0), x, -static_cast<float>(alpha_t * h_phi_1), m0);
        Tensor x_t = x_base;
        if (!d1s.empty()) {
            std::vector<double> rhos_p{0.5};  // order 2: the simplified predictor
            if (order != 2) {
                std::vector<std::vector<double>> rp(r.begin(), r.end() - 1);
                for (auto& row : rp) row.pop_back();
                rhos_p = solve(rp, std::vector<double>(b.begin(), b.end() - 1));
            }
            x_t = axpby(1.0f, x_base, -static_cast<float>(alpha_t * b_h), combine(rhos_p, d1s));
        }
        if (!use_corrector) return {x_t, std::nullopt};
        const std::vector<double> rhos_c = order == 1 ? std::vector<double>{0.5} : solve(r, b);
        Tensor model_t = model_fn(x_t, t);
        Tensor corr = scaled(axpby(1.0f, model_t, -1.0f, m0), static_cast<float>(rhos_c.back()));  // rho_c D1_t
        if (!d1s.empty()) corr = axpby(1.0f, corr, 1.0f, combine(std::vector<double>(rhos_c.begin(), rhos_c.end() - 1), d1s));
        return {axpby(1.0f, x_base, -static_cast<float>(alpha_t * b_h), corr), std::move(model_t)};
    }

private:
    const EpsModel& eps_;
    const VpSchedule& ns_;
    UniPcVariant variant_;
};

}  // namespace

Tensor sample_unipc(const EpsModel& eps, const std::vector<float>& alphas_cumprod, int steps, Tensor x, double t_start,
                    const UniPcOptions& options, const StepCallback& callback) {
    if (steps < 1) throw Error::make("UniPC needs at least one step");
    if (alphas_cumprod.size() < 2) throw Error::make("UniPC needs the model's alphas_cumprod");
    const VpSchedule ns(alphas_cumprod);
    const UniPc unipc(eps, ns, options.variant);
    const int order = std::clamp(options.order, 1, steps);
    const double t_end = 1.0 / ns.total_n();
    std::vector<double> ts(static_cast<size_t>(steps) + 1);  // linspace(t_start, 1/N, steps + 1)
    for (int i = 0; i <= steps; ++i) ts[static_cast<size_t>(i)] = t_start + (t_end - t_start) * i / steps;

    std::vector<Tensor> model_prev{unipc.model_fn(x, ts[0])};
    std::vector<double> t_prev{ts[0]};
    for (int step = 1; step <= steps; ++step) {
        const bool warm_up = step < order;  // the first steps build the history at orders 1, 2, ...
        const int step_order = warm_up ? step : options.lower_order_final ? std::min(order, steps + 1 - step) : order;
        auto [x_next, model_x] = unipc.update(x, model_prev, t_prev, ts[static_cast<size_t>(step)], step_order, step != steps);
        x = std::move(x_next);
        report_step(callback, step - 1, steps, x, model_x ? *model_x : x);
        if (step == steps) break;
        if (!model_x) model_x = unipc.model_fn(x, ts[static_cast<size_t>(step)]);
        if (!warm_up) {  // keep the last `order` values
            model_prev.erase(model_prev.begin());
            t_prev.erase(t_prev.begin());
        }
        model_prev.push_back(std::move(*model_x));
        t_prev.push_back(ts[static_cast<size_t>(step)]);
    }
    return x;
}

}  // namespace difu
