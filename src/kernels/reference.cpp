#include "kernels/reference.h"

#include <cmath>
#include <vector>

namespace difu::ref {

void linear(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t in, int64_t out) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
            double acc = b ? b[o] : 0.0;
            for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(x[r * in + i]) * w[o * in + i];
            y[r * out + o] = static_cast<float>(acc);
        }
}

void layer_norm(const float* x, float* y, int64_t rows, int64_t n, const float* g, const float* b, float eps) {
    for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; ++i) mean += x[r * n + i];
        mean /= n;
        for (int64_t i = 0; i < n; ++i) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
        var /= n;
        for (int64_t i = 0; i < n; ++i)
            y[r * n + i] = static_cast<float>((x[r * n + i] - mean) / std::sqrt(var + eps) * g[i] + b[i]);
    }
}

void quick_gelu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] / (1.0 + std::exp(-1.702 * x[i])));
}
void gelu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0))));
}
void silu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] / (1.0 + std::exp(-static_cast<double>(x[i]))));
}

void conv2d(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t h, int64_t wd, int64_t cin,
            int64_t cout, int64_t kh, int64_t kw, int stride, int pad_top, int pad_left, int64_t oh, int64_t ow) {
    for (int64_t s = 0; s < n; ++s)
        for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox)
                for (int64_t o = 0; o < cout; ++o) {
                    double acc = b ? b[o] : 0.0;
                    for (int64_t ky = 0; ky < kh; ++ky)
                        for (int64_t kx = 0; kx < kw; ++kx) {
                            const int64_t iy = oy * stride + ky - pad_top, ix = ox * stride + kx - pad_left;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            for (int64_t i = 0; i < cin; ++i)
                                acc += static_cast<double>(x[((s * h + iy) * wd + ix) * cin + i]) *
                                       w[((o * cin + i) * kh + ky) * kw + kx];
                        }
                    y[((s * oh + oy) * ow + ox) * cout + o] = static_cast<float>(acc);
                }
}

void group_norm(const float* x, float* y, int64_t n, int64_t hw, int64_t c, int groups, const float* g, const float* b,
                float eps, bool silu) {
    const int64_t cpg = c / groups;
    for (int64_t s = 0; s < n; ++s)
        for (int gr = 0; gr < groups; ++gr) {
            double mean = 0, var = 0;
            for (int64_t p = 0; p < hw; ++p)
                for (int64_t ch = gr * cpg; ch < (gr + 1) * cpg; ++ch) mean += x[(s * hw + p) * c + ch];
            mean /= static_cast<double>(hw * cpg);
            for (int64_t p = 0; p < hw; ++p)
                for (int64_t ch = gr * cpg; ch < (gr + 1) * cpg; ++ch) {
                    const double d = x[(s * hw + p) * c + ch] - mean;
                    var += d * d;
                }
            var /= static_cast<double>(hw * cpg);
            for (int64_t p = 0; p < hw; ++p)
                for (int64_t ch = gr * cpg; ch < (gr + 1) * cpg; ++ch) {
                    const int64_t i = (s * hw + p) * c + ch;
                    double v = (x[i] - mean) / std::sqrt(var + eps) * g[ch] + b[ch];
                    if (silu) v = v / (1.0 + std::exp(-v));
                    y[i] = static_cast<float>(v);
                }
        }
}

void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s, float scale) {
    std::vector<double> p(static_cast<size_t>(s.kv_len));
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t h = 0; h < s.heads; ++h)
            for (int64_t i = 0; i < s.q_len; ++i) {
                const float* qi = q + (b * s.q_len + i) * s.q_stride + h * s.head_dim;
                double mx = -INFINITY;
                for (int64_t j = 0; j < s.kv_len; ++j) {
                    const float* kj = k + (b * s.kv_len + j) * s.k_stride + h * s.head_dim;
                    double dot = 0;
                    for (int64_t d = 0; d < s.head_dim; ++d) dot += static_cast<double>(qi[d]) * kj[d];
                    p[j] = (s.causal && j > i) ? -INFINITY : dot * scale;
                    mx = std::max(mx, p[j]);
                }
                double sum = 0;
                for (int64_t j = 0; j < s.kv_len; ++j) sum += (p[j] = std::exp(p[j] - mx));
                float* oi = out + (b * s.q_len + i) * s.out_stride + h * s.head_dim;
                for (int64_t d = 0; d < s.head_dim; ++d) {
                    double acc = 0;
                    for (int64_t j = 0; j < s.kv_len; ++j)
                        acc += p[j] * v[(b * s.kv_len + j) * s.v_stride + h * s.head_dim + d];
                    oi[d] = static_cast<float>(acc / sum);
                }
            }
}

}  // namespace difu::ref
