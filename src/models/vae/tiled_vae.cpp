#include "models/vae/tiled_vae.h"

#include <algorithm>
#include <functional>

#include "core/error.h"

namespace difu {

std::vector<TileSpan> tile_spans(int64_t length, int64_t tile, int64_t overlap) {
    DIFU_CHECK(length > 0 && tile > 0 && overlap >= 0 && overlap < tile, "tiling: {} pixels in tiles of {} overlapping {}",
               length, tile, overlap);
    if (length <= tile) return {{0, length, 0, length}};
    const int64_t stride = tile - overlap;
    const int64_t count = (length - overlap + stride - 1) / stride;  // enough tiles that neighbours share >= overlap
    std::vector<TileSpan> spans;
    for (int64_t i = 0; i < count; ++i) {
        const int64_t start = (length - tile) * i / (count - 1);  // spread evenly, the last one at the end
        spans.push_back({start, start + tile, 0, length});
    }
    for (size_t i = 1; i < spans.size(); ++i)  // each shared band is split at its middle
        spans[i].core_begin = spans[i - 1].core_end = (spans[i].start + spans[i - 1].end) / 2;
    return spans;
}

namespace {

// Weight of position p (in tile units) of span s: 1 in its core's interior, ramping linearly to 0
// across the bands it shares with its neighbours, so that two neighbours' weights sum to 1 there.
float ramp(const TileSpan& s, double p, int64_t length) {
    float w = 1.0f;
    if (s.start > 0) {  // a neighbour before: the shared band is [s.start, previous end) ~ 2 * (core_begin - start)
        const double band = 2.0 * (s.core_begin - s.start);
        w = std::min(w, static_cast<float>(std::clamp((p - s.start) / band, 0.0, 1.0)));
    }
    if (s.end < length) {
        const double band = 2.0 * (s.end - s.core_end);
        w = std::min(w, static_cast<float>(std::clamp((s.end - p) / band, 0.0, 1.0)));
    }
    return w;
}

}  // namespace

Tensor run_in_tiles(const Tensor& input, int64_t latent_h, int64_t latent_w, int64_t in_scale, int64_t out_scale,
                    const VaeTiling& t, Arena& a, const std::function<Tensor(const Tensor&)>& run) {
    DIFU_CHECK(input.ndim() == 4 && input.dim(2) == latent_h * in_scale && input.dim(3) == latent_w * in_scale,
               "tiling: input {} is not {}x{} latent cells of {}", shape_str(input.shape()), latent_h, latent_w, in_scale);
    const auto rows = tile_spans(latent_h, t.tile, t.overlap), cols = tile_spans(latent_w, t.tile, t.overlap);
    const int64_t n = input.dim(0);
    Tensor out, weight;
    int64_t cout = 0;
    const int64_t oh = latent_h * out_scale, ow = latent_w * out_scale;
    for (const TileSpan& r : rows)
        for (const TileSpan& c : cols) {
            const Arena::Mark m = a.mark();
            const Tensor tile = input.slice(2, r.start * in_scale, r.end * in_scale)
                                    .slice(3, c.start * in_scale, c.end * in_scale)
                                    .contiguous();
            const Tensor y = run(tile);  // [N, C', th, tw]
            if (!out.defined()) {
                cout = y.dim(1);
                out = Tensor::empty({n, cout, oh, ow});
                weight = Tensor::empty({oh, ow});
            }
            const int64_t th = y.dim(2), tw = y.dim(3), y0 = r.start * out_scale, x0 = c.start * out_scale;
            std::vector<float> wy(static_cast<size_t>(th)), wx(static_cast<size_t>(tw));
            for (int64_t i = 0; i < th; ++i) wy[i] = ramp(r, (i + 0.5) / out_scale + r.start, latent_h);
            for (int64_t j = 0; j < tw; ++j) wx[j] = ramp(c, (j + 0.5) / out_scale + c.start, latent_w);
            float* o = out.mutable_data<float>();
            float* ws = weight.mutable_data<float>();
            const float* src = y.data<float>();
            for (int64_t i = 0; i < th; ++i)
                for (int64_t j = 0; j < tw; ++j) ws[(y0 + i) * ow + x0 + j] += wy[i] * wx[j];
            for (int64_t b = 0; b < n * cout; ++b)
                for (int64_t i = 0; i < th; ++i)
                    for (int64_t j = 0; j < tw; ++j)
                        o[(b * oh + y0 + i) * ow + x0 + j] += wy[i] * wx[j] * src[(b * th + i) * tw + j];
            a.rewind(m);
        }
    float* o = out.mutable_data<float>();
    const float* ws = weight.data<float>();
    for (int64_t b = 0; b < n * cout; ++b)
        for (int64_t p = 0; p < oh * ow; ++p) o[b * oh * ow + p] /= ws[p];
    return out;
}

Tensor decode_tiled(const AutoencoderKL& vae, const Tensor& z, const VaeTiling& t, Arena& a) {
    DIFU_CHECK(z.ndim() == 4, "VAE decoder input must be [N, C, h, w], got {}", shape_str(z.shape()));
    return run_in_tiles(z, z.dim(2), z.dim(3), 1, vae.downscale(), t, a,
                     [&](const Tensor& tile) { return vae.decode(tile, a); });
}

Posterior encode_tiled(const AutoencoderKL& vae, const Tensor& image, const VaeTiling& t, Arena& a) {
    DIFU_CHECK(image.ndim() == 4, "VAE encoder input must be [N, 3, H, W], got {}", shape_str(image.shape()));
    const int64_t f = vae.downscale();
    if (image.dim(2) % f != 0 || image.dim(3) % f != 0)
        throw Error::make("image size {}x{} is not a multiple of {}", image.dim(3), image.dim(2), f);
    const Tensor moments = run_in_tiles(image, image.dim(2) / f, image.dim(3) / f, f, 1, t, a,
                                     [&](const Tensor& tile) { return vae.encode(tile, a).moments(); });
    const int64_t e = moments.dim(1) / 2;
    return {moments.slice(1, 0, e).contiguous(), moments.slice(1, e, 2 * e).contiguous()};
}

namespace {
constexpr int64_t kDecoderPeakActivations = 5, kEncoderPeakActivations = 3;  // see untiled_decode_bytes
int64_t first_level_bytes(const VaeConfig& cfg, int64_t height, int64_t width) {
    const int64_t mult = cfg.ch_mult.empty() ? 1 : cfg.ch_mult.front();
    return height * width * cfg.ch * mult * static_cast<int64_t>(sizeof(float));
}
}  // namespace

int64_t untiled_decode_bytes(const VaeConfig& cfg, int64_t height, int64_t width) {
    return kDecoderPeakActivations * first_level_bytes(cfg, height, width);
}

int64_t untiled_encode_bytes(const VaeConfig& cfg, int64_t height, int64_t width) {
    return kEncoderPeakActivations * first_level_bytes(cfg, height, width);
}

VaeTilingMode parse_vae_tiling_mode(const std::string& name) {
    if (name == "auto") return VaeTilingMode::Auto;
    if (name == "on") return VaeTilingMode::On;
    if (name == "off") return VaeTilingMode::Off;
    throw Error::make("unknown VAE tiling '{}' (auto, on, off)", name);
}

Tensor vae_decode(const AutoencoderKL& vae, const Tensor& z, const VaeTilingPolicy& policy, Arena& a) {
    const int64_t f = vae.downscale();
    if (z.ndim() == 4 && policy.tiles_pass(z.dim(0) * untiled_decode_bytes(vae.config(), z.dim(2) * f, z.dim(3) * f)))
        return decode_tiled(vae, z, policy.tiles, a);
    return vae.decode(z, a);
}

Posterior vae_encode(const AutoencoderKL& vae, const Tensor& image, const VaeTilingPolicy& policy, Arena& a) {
    if (image.ndim() == 4 && policy.tiles_pass(image.dim(0) * untiled_encode_bytes(vae.config(), image.dim(2), image.dim(3))))
        return encode_tiled(vae, image, policy.tiles, a);
    return vae.encode(image, a);
}

}  // namespace difu
