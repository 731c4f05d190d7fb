#include "pipeline/noise.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "sampling/brownian_tree.h"

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

NoiseSampler BatchNoise::brownian(float sigma_min, float sigma_max) const {
    auto paths = std::make_shared<std::vector<BrownianNoise>>();
    if (source_ == RngSource::Cpu) {
        paths->emplace_back(sigma_min, sigma_max, static_cast<uint64_t>(seed_),
                            [shape = shape_](uint32_t s) { return TorchCpuGenerator(s).randn(shape); });
    } else {
        const Shape image(shape_.begin() + 1, shape_.end());
        for (int64_t i = 0; i < shape_[0]; ++i)
            paths->emplace_back(sigma_min, sigma_max, static_cast<uint64_t>(seed_ + i),
                                [image](uint32_t s) { return PhiloxGenerator(s).randn(image); });
    }
    const bool whole_batch = source_ == RngSource::Cpu;  // one path of the batch's shape
    return [paths, shape = shape_, whole_batch](const Shape& s, float sigma, float sigma_next) {
        if (s != shape) throw Error::make("a sampler asked for noise of shape {}, the latent is {}", shape_str(s), shape_str(shape));
        if (whole_batch) return (*paths)[0](sigma, sigma_next);
        Tensor out = Tensor::empty(shape);
        for (size_t i = 0; i < paths->size(); ++i) put_image(out, static_cast<int64_t>(i), (*paths)[i](sigma, sigma_next));
        return out;
    };
}

Tensor BatchNoise::fresh_randn(uint64_t seed, const Shape& shape) const {
    return source_ == RngSource::Cpu ? TorchCpuGenerator(seed).randn(shape) : PhiloxGenerator(seed).randn(shape);
}

Tensor BatchNoise::first() {
    Tensor noise = source_ == RngSource::Cpu ? cpu_.randn(shape_) : next();
    const bool resize = variation_.resizes() &&
                        (variation_.resize_from_height / kLatentDownscale != shape_[2] || variation_.resize_from_width / kLatentDownscale != shape_[3]);
    if (variation_.strength == 0.0f && !resize) return noise;
    const Shape image(shape_.begin() + 1, shape_.end());
    const Shape drawn = resize ? Shape{shape_[1], variation_.resize_from_height / kLatentDownscale, variation_.resize_from_width / kLatentDownscale}
                               : image;
    for (int64_t i = 0; i < shape_[0]; ++i) {
        Tensor n = resize ? fresh_randn(static_cast<uint64_t>(seed_ + i), drawn) : image_of(noise, i);
        if (variation_.strength != 0.0f)
            n = webui_slerp(variation_.strength, n, fresh_randn(static_cast<uint64_t>(variation_.subseed + i), drawn));
        if (resize) n = paste_centred(n, image_of(noise, i));
        put_image(noise, i, n);
    }
    return noise;
}

// webui: x[:, ty:ty+h, tx:tx+w] = noise[:, dy:dy+h, dx:dx+w], centring the smaller in the larger per axis.
Tensor BatchNoise::paste_centred(const Tensor& small, Tensor target) {
    const int64_t C = target.dim(0), H = target.dim(1), W = target.dim(2), h0 = small.dim(1), w0 = small.dim(2);
    int64_t dx = (W - w0) / 2, dy = (H - h0) / 2;  // Python's // floors
    if ((W - w0) < 0 && (W - w0) % 2 != 0) --dx;
    if ((H - h0) < 0 && (H - h0) % 2 != 0) --dy;
    const int64_t w = dx >= 0 ? w0 : w0 + 2 * dx, h = dy >= 0 ? h0 : h0 + 2 * dy;
    const int64_t tx = dx < 0 ? 0 : dx, ty = dy < 0 ? 0 : dy, sx = std::max<int64_t>(-dx, 0), sy = std::max<int64_t>(-dy, 0);
    float* t = target.mutable_data<float>();
    const float* s = small.data<float>();
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) t[(c * H + ty + y) * W + tx + x] = s[(c * h0 + sy + y) * w0 + sx + x];
    return target;
}

Tensor BatchNoise::posterior(const Shape& shape) { return cpu_.randn(shape); }

}  // namespace difu
