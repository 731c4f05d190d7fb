#include "pipeline/noise.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace difu {
namespace {

constexpr double kSlerpLerpThreshold = 0.9995;  // webui: "if dot.mean() > 0.9995" use a lerp

// Image i of [B, ...] as its own contiguous tensor, and back.
Tensor image_of(const Tensor& batch, int64_t i) { return batch.select(0, i).contiguous(); }
void put_image(Tensor& batch, int64_t i, const Tensor& img) {
    std::memcpy(batch.mutable_data<float>() + i * img.numel(), img.data<float>(), img.nbytes());
}

}  // namespace

Tensor webui_slerp(float val, const Tensor& low, const Tensor& high) {
    if (low.ndim() != 3 || low.shape() != high.shape())
        throw Error::make("slerp of {} and {}: expected two [C, H, W] tensors", shape_str(low.shape()), shape_str(high.shape()));
    const int64_t C = low.dim(0), H = low.dim(1), W = low.dim(2);
    const Tensor l = low.contiguous(), h = high.contiguous();
    auto at = [&](const Tensor& t, int64_t c, int64_t y, int64_t x) { return static_cast<double>(t.data<float>()[(c * H + y) * W + x]); };
    std::vector<double> dot(static_cast<size_t>(C * W));
    double dot_sum = 0;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t x = 0; x < W; ++x) {
            double nl = 0, nh = 0, d = 0;
            for (int64_t y = 0; y < H; ++y) {
                nl += at(l, c, y, x) * at(l, c, y, x);
                nh += at(h, c, y, x) * at(h, c, y, x);
                d += at(l, c, y, x) * at(h, c, y, x);
            }
            dot[static_cast<size_t>(c * W + x)] = d / (std::sqrt(nl) * std::sqrt(nh));
            dot_sum += dot[static_cast<size_t>(c * W + x)];
        }
    Tensor out = Tensor::empty(l.shape());
    float* o = out.mutable_data<float>();
    const bool lerp = dot_sum / static_cast<double>(C * W) > kSlerpLerpThreshold;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t x = 0; x < W; ++x) {
            const double omega = std::acos(dot[static_cast<size_t>(c * W + x)]), so = std::sin(omega);
            // webui's lerp weights the main noise by val (sic), its slerp by sin((1 - val) omega) / sin(omega).
            const double a = lerp ? val : std::sin((1.0 - val) * omega) / so, b = lerp ? 1.0 - val : std::sin(val * omega) / so;
            for (int64_t y = 0; y < H; ++y) o[(c * H + y) * W + x] = static_cast<float>(a * at(l, c, y, x) + b * at(h, c, y, x));
        }
    return out;
}

BatchNoise::BatchNoise(RngSource source, int64_t seed, const Shape& shape, const Variation& variation)
    : source_(source), seed_(seed), shape_(shape), variation_(variation), cpu_(static_cast<uint64_t>(seed)),
      cpu_steps_(static_cast<uint64_t>(seed) + 1) {
    if (shape.size() != 4) throw Error::make("latent noise of shape {}: expected [B, C, h, w]", shape_str(shape));
    if (source_ == RngSource::Gpu)
        for (int64_t i = 0; i < shape[0]; ++i) philox_.emplace_back(static_cast<uint64_t>(seed + i));
}

Tensor BatchNoise::next() {
    if (source_ == RngSource::Cpu) return cpu_steps_.randn(shape_);
    Tensor out = Tensor::empty(shape_);
    const Shape image(shape_.begin() + 1, shape_.end());
    for (size_t i = 0; i < philox_.size(); ++i) put_image(out, static_cast<int64_t>(i), philox_[i].randn(image));
    return out;
}

Tensor BatchNoise::first() {
    Tensor noise = source_ == RngSource::Cpu ? cpu_.randn(shape_) : next();
    if (variation_.strength == 0.0f) return noise;
    const Shape image(shape_.begin() + 1, shape_.end());
    for (int64_t i = 0; i < shape_[0]; ++i) {
        const uint64_t subseed = static_cast<uint64_t>(variation_.subseed + i);
        const Tensor sub = source_ == RngSource::Cpu ? TorchCpuGenerator(subseed).randn(image) : PhiloxGenerator(subseed).randn(image);
        put_image(noise, i, webui_slerp(variation_.strength, image_of(noise, i), sub));
    }
    return noise;
}

Tensor BatchNoise::posterior(const Shape& shape) { return cpu_.randn(shape); }

}  // namespace difu
