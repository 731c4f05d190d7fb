#include "pipeline/guidance.h"

#include <cmath>
#include <cstring>

namespace difu {
namespace {

// [1, ...] repeated `times` along the batch.
Tensor repeat_batch(const Tensor& t, int64_t times) {
    Shape s = t.shape();
    s[0] = times;
    Tensor out = Tensor::empty(s);
    const Tensor c = t.contiguous();
    for (int64_t i = 0; i < times; ++i) std::memcpy(out.mutable_data<float>() + i * c.numel(), c.data<float>(), c.nbytes());
    return out;
}

// [uncond x B, cond x B] (or cond x B alone) of a context or vector.
Tensor batch_of(const Tensor& cond, const Tensor& uncond, int64_t batch, bool guided) {
    if (!cond.defined()) return Tensor();
    Tensor c = repeat_batch(cond, batch);
    if (!guided) return c;
    Tensor u = repeat_batch(uncond, batch);
    Shape s = c.shape();
    s[0] = 2 * batch;
    Tensor both = Tensor::empty(s);
    std::memcpy(both.mutable_data<float>(), u.data<float>(), u.nbytes());
    std::memcpy(both.mutable_data<float>() + u.numel(), c.data<float>(), c.nbytes());
    return both;
}

// The UNet's output (eps or v) for x [B, ...] at (fractional) timestep t with input scale c_in; returns
// the {unconditional, conditional} halves (the first undefined without guidance).
std::pair<Tensor, Tensor> output_halves(const GuidedModel& m, const Tensor& x, float t, float c_in) {
    const int64_t b = x.dim(0);
    // cfg <= 1: the conditional prediction alone (SD-Turbo / SDXL-Turbo run at 0 or 1; diffusers
    // guides only above 1, webui skips the unconditional pass at 1) — half the UNet work.
    const bool guided = m.scale > 1.0f;
    const int64_t n = guided ? 2 * b : b;
    // [x c_in | c_concat] per sample, the whole batch repeated for the two halves.
    const int64_t hw = x.dim(2) * x.dim(3), cx = x.dim(1);
    const int64_t cc = m.image_conditioning.defined() ? m.image_conditioning.dim(1) : 0;
    if (cc > 0 && (m.image_conditioning.dim(2) != x.dim(2) || m.image_conditioning.dim(3) != x.dim(3)))
        throw Error::make("image conditioning {} does not fit the latent {}", shape_str(m.image_conditioning.shape()),
                          shape_str(x.shape()));
    Tensor x_in = Tensor::empty({n, cx + cc, x.dim(2), x.dim(3)});
    float* in = x_in.mutable_data<float>();
    const Tensor concat = cc > 0 ? m.image_conditioning.contiguous() : Tensor();
    for (int64_t k = 0; k < n; ++k) {
        const float* xs = x.data<float>() + (k % b) * cx * hw;
        float* dst = in + k * (cx + cc) * hw;
        for (int64_t i = 0; i < cx * hw; ++i) dst[i] = xs[i] * c_in;
        if (cc > 0) {
            const int64_t src_b = concat.dim(0) == 1 ? 0 : k % b;
            std::memcpy(dst + cx * hw, concat.data<float>() + src_b * cc * hw, static_cast<size_t>(cc * hw) * sizeof(float));
        }
    }
    std::vector<float> ts(static_cast<size_t>(n), t);
    if (m.unet_calls) ++*m.unet_calls;
    Tensor eps = m.unet.forward(x_in, ts, batch_of(m.cond.context, m.uncond.context, b, guided),
                                batch_of(m.cond.vector, m.uncond.vector, b, guided), m.arena);
    if (!guided) return {Tensor(), eps};
    return {eps.slice(0, 0, b).contiguous(), eps.slice(0, b, 2 * b).contiguous()};
}

}  // namespace

Denoiser make_cfg_denoiser(const GuidedModel& m) {
    return [&m](const Tensor& x, float sigma) {
        const float s2 = sigma * sigma + 1.0f;
        const float c_in = 1.0f / std::sqrt(s2);
        const bool v = m.prediction == Prediction::V;
        const float c_skip = v ? 1.0f / s2 : 1.0f, c_out = v ? -sigma / std::sqrt(s2) : -sigma;
        auto [fu, fc] = output_halves(m, x, static_cast<float>(m.schedule.sigma_to_t(sigma)), c_in);
        Tensor out = Tensor::empty(x.shape());
        auto o = out.f32_mut();
        auto xs = x.f32(), c = fc.f32();
        if (!fu.defined()) {
            for (size_t i = 0; i < o.size(); ++i) o[i] = c[i] * c_out + xs[i] * c_skip;
            return out;
        }
        auto u = fu.f32();
        for (size_t i = 0; i < o.size(); ++i) {
            const float du = u[i] * c_out + xs[i] * c_skip, dc = c[i] * c_out + xs[i] * c_skip;  // denoised per half
            o[i] = du + (dc - du) * m.scale;
        }
        return out;
    };
}

EpsModel make_cfg_eps(const GuidedModel& m) {
    return [&m](const Tensor& x, float t) {
        auto [fu, fc] = output_halves(m, x, t, 1.0f);
        Tensor out = fc;
        if (fu.defined()) {
            out = Tensor::empty(x.shape());
            auto o = out.f32_mut();
            auto u = fu.f32(), c = fc.f32();
            for (size_t i = 0; i < o.size(); ++i) o[i] = u[i] + m.scale * (c[i] - u[i]);
        }
        if (m.prediction == Prediction::V) {  // eps = sqrt(a_t) v + sqrt(1 - a_t) x, a_t at int(t) as webui's UniPC
            const double a = m.schedule.alphas_cumprod().at(static_cast<size_t>(t));
            const float sqrt_a = static_cast<float>(std::sqrt(a)), sqrt_1ma = static_cast<float>(std::sqrt(1.0 - a));
            auto o = out.f32_mut();
            auto xs = x.f32();
            for (size_t i = 0; i < o.size(); ++i) o[i] = sqrt_a * o[i] + sqrt_1ma * xs[i];
        }
        return out;
    };
}

void pad_to_same_length(Conditioning& cond_c, Conditioning& uncond_c, const Tensor& empty_chunk) {
    Tensor& cond = cond_c.context;
    Tensor& uncond = uncond_c.context;
    auto extend = [&](Tensor& t, int64_t tokens) {
        const int64_t c = t.dim(2), chunk = empty_chunk.dim(1);
        Tensor out = Tensor::empty({1, tokens, c});
        std::memcpy(out.mutable_data<float>(), t.data<float>(), t.nbytes());
        for (int64_t pos = t.dim(1); pos < tokens; pos += chunk)
            std::memcpy(out.mutable_data<float>() + pos * c, empty_chunk.data<float>(), empty_chunk.nbytes());
        t = out;
    };
    if (cond.dim(1) < uncond.dim(1)) extend(cond, uncond.dim(1));
    else if (uncond.dim(1) < cond.dim(1)) extend(uncond, cond.dim(1));
}

}  // namespace difu
