// sampling/lms.cpp — k-diffusion sample_lms: linear multistep on the slopes d,
//   x_{i+1} = x_i + sum_j c_ij d_{i-j},  c_ij = integral_{sigma_i}^{sigma_{i+1}} prod_{k != j} (tau - sigma_{i-k}) / (sigma_{i-j} - sigma_{i-k}) dtau
// The integrand is a polynomial of degree < 4, so 4-point Gauss-Legendre is exact (k-diffusion uses
// scipy.integrate.quad on it).
#include <deque>

#include "sampling/k_samplers.h"
#include "sampling/tensor_math.h"

namespace difu {
namespace {

double lagrange_basis(int order, std::span<const float> t, int i, int j, double tau) {
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
        if (k == j) continue;
        prod *= (tau - t[i - k]) / (static_cast<double>(t[i - j]) - t[i - k]);
    }
    return prod;
}

double linear_multistep_coeff(int order, std::span<const float> t, int i, int j) {
    static constexpr double kNodes[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
    static constexpr double kWeights[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
    const double a = t[i], b = t[i + 1], half = 0.5 * (b - a), mid = 0.5 * (a + b);
    double sum = 0.0;
    for (int q = 0; q < 4; ++q) sum += kWeights[q] * lagrange_basis(order, t, i, j, mid + half * kNodes[q]);
    return sum * half;
}

}  // namespace

Tensor sample_lms(const KSamplerArgs& a, Tensor x, int order) {
    const int steps = static_cast<int>(a.sigmas.size()) - 1;
    std::deque<Tensor> ds;  // newest last
    for (int i = 0; i < steps; ++i) {
        const float sigma = a.sigmas[i];
        Tensor denoised = a.model(x, sigma);
        ds.push_back(to_d(x, sigma, denoised));
        if (static_cast<int>(ds.size()) > order) ds.pop_front();
        const int cur = std::min(i + 1, order);
        for (int j = 0; j < cur; ++j) {
            const float c = static_cast<float>(linear_multistep_coeff(cur, a.sigmas, i, j));
            x = axpby(1.0f, x, c, ds[ds.size() - 1 - static_cast<size_t>(j)]);
        }
        report_step(a.callback, i, steps, x, denoised);
    }
    return x;
}

}  // namespace difu
