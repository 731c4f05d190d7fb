#include "kernels/group_norm.h"
#include "kernels/profile.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/vec_math.h"

namespace difu {
namespace {

// Per-channel sums of x (first pass) or of (x - mean_of_its_group)^2 (second pass) over one sample's
// pixels. The pixels are cut into a fixed number of chunks whatever the thread count, and the chunk
// sums are added in chunk order, so the result is bit-identical for any number of threads.
constexpr int64_t kReductionChunks = 64;

std::vector<double> channel_sums(const float* x, int64_t hw, int64_t c, const std::vector<double>* group_mean, int64_t cpg) {
    const int64_t chunks = std::min<int64_t>(kReductionChunks, std::max<int64_t>(hw, 1));
    std::vector<double> partial(static_cast<size_t>(chunks * c), 0.0);
    std::vector<float> mean_c(static_cast<size_t>(c), 0.0f);
    if (group_mean)
        for (int64_t ch = 0; ch < c; ++ch) mean_c[ch] = static_cast<float>((*group_mean)[ch / cpg]);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < chunks; ++k) {
        double* acc = partial.data() + k * c;
        for (int64_t p = hw * k / chunks; p < hw * (k + 1) / chunks; ++p) {
            const float* row = x + p * c;
            if (group_mean) {
#pragma omp simd
                for (int64_t ch = 0; ch < c; ++ch) {
                    const double d = row[ch] - mean_c[ch];
                    acc[ch] += d * d;
                }
            } else {
#pragma omp simd
                for (int64_t ch = 0; ch < c; ++ch) acc[ch] += row[ch];
            }
        }
    }
    std::vector<double> total(static_cast<size_t>(c), 0.0);
    for (int64_t k = 0; k < chunks; ++k)
        for (int64_t ch = 0; ch < c; ++ch) total[ch] += partial[k * c + ch];
    return total;
}

std::vector<double> group_totals(const std::vector<double>& per_channel, int groups, int64_t cpg) {
    std::vector<double> g(static_cast<size_t>(groups), 0.0);
    for (size_t ch = 0; ch < per_channel.size(); ++ch) g[ch / cpg] += per_channel[ch];
    return g;
}

}  // namespace

void group_norm(const float* x, float* y, int64_t n, int64_t hw, int64_t c, int groups, const float* gamma,
                const float* beta, float eps, bool silu) {
    KernelScope profile_scope(KernelKind::GroupNorm);
    DIFU_CHECK(groups > 0 && c % groups == 0, "group_norm: {} channels are not divisible into {} groups", c, groups);
    const int64_t cpg = c / groups;
    const double count = static_cast<double>(hw * cpg);
    for (int64_t s = 0; s < n; ++s) {
        const float* xs = x + s * hw * c;
        float* ys = y + s * hw * c;
        std::vector<double> mean = group_totals(channel_sums(xs, hw, c, nullptr, cpg), groups, cpg);
        for (auto& m : mean) m /= count;
        std::vector<double> var = group_totals(channel_sums(xs, hw, c, &mean, cpg), groups, cpg);
        // Fold normalisation and affine into one scale and shift per channel.
        std::vector<float> scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
        for (int64_t ch = 0; ch < c; ++ch) {
            const double inv = 1.0 / std::sqrt(var[ch / cpg] / count + eps);
            scale[ch] = static_cast<float>(gamma[ch] * inv);
            shift[ch] = static_cast<float>(beta[ch] - mean[ch / cpg] * gamma[ch] * inv);
        }
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < hw; ++p) {
            const float* xr = xs + p * c;
            float* yr = ys + p * c;
            if (silu) {
#pragma omp simd
                for (int64_t ch = 0; ch < c; ++ch) {
                    const float v = xr[ch] * scale[ch] + shift[ch];
                    yr[ch] = vec::silu(v);
                }
            } else {
#pragma omp simd
                for (int64_t ch = 0; ch < c; ++ch) yr[ch] = xr[ch] * scale[ch] + shift[ch];
            }
        }
    }
}

}  // namespace difu
