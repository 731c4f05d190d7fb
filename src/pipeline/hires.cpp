#include "pipeline/hires.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"

namespace difu {
namespace {

constexpr float kCubicA = -0.75f;        // torch's upsample_bicubic2d
constexpr double kAntialiasCubicA = -0.5;  // torch's antialiased bicubic (Pillow's)

float cubic1(float x) { return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1; }              // |x| <= 1
float cubic2(float x) { return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA; }  // 1 < |x| < 2

// One output index's taps along an axis: input indices and weights.
struct Taps {
    std::vector<int64_t> index;
    std::vector<float> weight;
};

std::vector<Taps> axis_taps(int64_t in, int64_t out, LatentUpscale mode) {
    const float scale = static_cast<float>(in) / static_cast<float>(out);  // area_pixel_compute_scale
    std::vector<Taps> taps(static_cast<size_t>(out));
    auto clamp_index = [in](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
    for (int64_t d = 0; d < out; ++d) {
        Taps& t = taps[static_cast<size_t>(d)];
        switch (mode) {
            case LatentUpscale::Nearest:
                t = {{std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * scale)), in - 1)}, {1.0f}};
                break;
            case LatentUpscale::NearestExact:
                t = {{std::min(static_cast<int64_t>(std::floor((static_cast<float>(d) + 0.5f) * scale)), in - 1)}, {1.0f}};
                break;
            case LatentUpscale::Bilinear: {
                const float src = std::max(scale * (static_cast<float>(d) + 0.5f) - 0.5f, 0.0f);
                const int64_t i0 = static_cast<int64_t>(src), i1 = i0 + (i0 < in - 1 ? 1 : 0);
                const float l1 = src - static_cast<float>(i0);
                t = {{i0, i1}, {1.0f - l1, l1}};
                break;
            }
            case LatentUpscale::Bicubic: {
                const float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
                const int64_t i = static_cast<int64_t>(std::floor(src));
                const float f = src - static_cast<float>(i);
                t = {{clamp_index(i - 1), clamp_index(i), clamp_index(i + 1), clamp_index(i + 2)},
                     {cubic2(f + 1), cubic1(f), cubic1(1 - f), cubic2(2 - f)}};
                break;
            }
            case LatentUpscale::BilinearAntialiased:
            case LatentUpscale::BicubicAntialiased: {
                const bool cubic = mode == LatentUpscale::BicubicAntialiased;
                const double s = static_cast<double>(in) / static_cast<double>(out);
                const double support = (cubic ? 2.0 : 1.0) * std::max(s, 1.0), invscale = s >= 1.0 ? 1.0 / s : 1.0;
                const double center = s * (static_cast<double>(d) + 0.5);
                const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
                const int64_t xmax = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
                auto filter = [cubic](double x) {
                    x = std::fabs(x);
                    if (!cubic) return x < 1.0 ? 1.0 - x : 0.0;
                    if (x < 1.0) return ((kAntialiasCubicA + 2.0) * x - (kAntialiasCubicA + 3.0)) * x * x + 1;
                    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * kAntialiasCubicA;
                    return 0.0;
                };
                double total = 0;
                std::vector<double> w;
                for (int64_t j = xmin; j < xmax; ++j) total += w.emplace_back(filter((static_cast<double>(j) - center + 0.5) * invscale));
                for (int64_t j = xmin; j < xmax; ++j) {
                    t.index.push_back(j);
                    t.weight.push_back(static_cast<float>(total != 0 ? w[static_cast<size_t>(j - xmin)] / total : 0.0));
                }
                break;
            }
        }
    }
    return taps;
}

}  // namespace

HiresUpscaler parse_hires_upscaler(const std::string& name) {
    static const std::pair<const char*, LatentUpscale> kLatent[] = {
        {"Latent", LatentUpscale::Bilinear},           {"Latent (antialiased)", LatentUpscale::BilinearAntialiased},
        {"Latent (bicubic)", LatentUpscale::Bicubic},  {"Latent (bicubic antialiased)", LatentUpscale::BicubicAntialiased},
        {"Latent (nearest)", LatentUpscale::Nearest},  {"Latent (nearest-exact)", LatentUpscale::NearestExact}};
    for (const auto& [label, mode] : kLatent)
        if (name == label) return {true, mode, label};
    if (name == "None" || name == "Lanczos") return {false, LatentUpscale::Bilinear, name};
    throw Error::make("unknown hires upscaler '{}' (Latent, Latent (antialiased), Latent (bicubic), Latent (bicubic "
                      "antialiased), Latent (nearest), Latent (nearest-exact), None, Lanczos)", name);
}

Tensor upscale_latent(const Tensor& x_in, int out_h, int out_w, LatentUpscale mode) {
    if (x_in.ndim() != 4 || out_h < 1 || out_w < 1) throw Error::make("latent upscale of {} to {}x{}", shape_str(x_in.shape()), out_w, out_h);
    const Tensor x = x_in.to(DType::F32).contiguous();
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    const std::vector<Taps> ty = axis_taps(h, out_h, mode), tx = axis_taps(w, out_w, mode);
    Tensor out = Tensor::empty({x.dim(0), x.dim(1), out_h, out_w});
    for (int64_t p = 0; p < planes; ++p) {
        const float* src = x.data<float>() + p * h * w;
        float* dst = out.mutable_data<float>() + p * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy) {
            const Taps& y = ty[static_cast<size_t>(oy)];
            for (int ox = 0; ox < out_w; ++ox) {
                const Taps& xt = tx[static_cast<size_t>(ox)];
                float acc = 0.0f;
                for (size_t a = 0; a < y.index.size(); ++a) {
                    float row = 0.0f;
                    for (size_t b = 0; b < xt.index.size(); ++b) row += xt.weight[b] * src[y.index[a] * w + xt.index[b]];
                    acc += y.weight[a] * row;
                }
                dst[static_cast<int64_t>(oy) * out_w + ox] = acc;
            }
        }
    }
    return out;
}

}  // namespace difu
