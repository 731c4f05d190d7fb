#include "pipeline/inpaint.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/error.h"
#include "pipeline/image_conditioning.h"
#include "pipeline/request.h"

namespace difu {
namespace {

constexpr float kOverlayGain = 2.0f;  // webui's mask_for_overlay = clip(2 L): half-painted pixels show the result

// A one-channel mask resized as Pillow resizes L (the same filter per channel, through RGB here).
Image resize_l(const Image& l, int width, int height, Resample filter, bool fill) {
    if (l.width == width && l.height == height) return l;
    Image rgb{l.width, l.height, 3, std::vector<uint8_t>(l.pixels.size() * 3)};
    for (size_t i = 0; i < l.pixels.size(); ++i) rgb.pixels[3 * i] = rgb.pixels[3 * i + 1] = rgb.pixels[3 * i + 2] = l.pixels[i];
    const Image big = fill ? resize_and_fill(rgb, width, height) : resize_image(rgb, width, height, filter);
    Image out{width, height, 1, std::vector<uint8_t>(static_cast<size_t>(width) * height)};
    for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = big.pixels[3 * i];
    return out;
}

}  // namespace

Image prepared_mask(const Image& mask, const InpaintOptions& o, int width, int height) {
    if (o.mask_prepared) {
        if (mask.channels != 1 || mask.width != width || mask.height != height)
            throw Error::make("a prepared inpainting mask must be one channel at {}x{}", width, height);
        return mask;
    }
    // webui blurs the mask at its own size, then resizes it as the init image ("Just resize": Lanczos).
    return resize_l(blur_mask(mask_luminance(mask, o.invert), o.blur_x, o.blur_y), width, height, Resample::Lanczos, false);
}

Image resize_mask_and_fill(const Image& l, int width, int height) { return resize_l(l, width, height, Resample::Lanczos, true); }

std::vector<float> mask_shares(const Image& l) {
    std::vector<float> out(l.pixels.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = l.pixels[i] / 255.0f;
    return out;
}

std::vector<float> overlay_alpha(const Image& l) {
    std::vector<float> out(l.pixels.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = std::min(kOverlayGain * l.pixels[i], 255.0f) / 255.0f;
    return out;
}

Outpaint parse_outpaint(const std::string& spec) {
    Outpaint o;
    size_t start = 0;
    while (start < spec.size()) {
        const size_t comma = std::min(spec.find(',', start), spec.size());
        const std::string part = spec.substr(start, comma - start);
        const size_t eq = part.find('=');
        int* side = nullptr;
        const std::string key = part.substr(0, eq);
        if (key == "left") side = &o.left;
        else if (key == "right") side = &o.right;
        else if (key == "top") side = &o.top;
        else if (key == "bottom") side = &o.bottom;
        if (!side || eq == std::string::npos)
            throw Error::make("--outpaint: '{}' is not left=N, right=N, top=N or bottom=N", part);
        try {
            size_t used = 0;
            *side = std::stoi(part.substr(eq + 1), &used);
            if (used != part.size() - eq - 1) throw std::invalid_argument(part);
        } catch (const std::exception&) {
            throw Error::make("--outpaint: '{}' needs a whole number of pixels", part);
        }
        if (*side < 0 || *side % kLatentDownscale != 0 || *side > kMaxImageSide)
            throw Error::make("--outpaint: {} must be a multiple of 8 between 0 and {}, got {}", key, kMaxImageSide, *side);
        start = comma + 1;
    }
    if (o.left + o.right + o.top + o.bottom == 0) throw Error::make("--outpaint: give at least one margin, e.g. left=128");
    return o;
}

std::pair<Image, Image> outpaint_canvas(const Image& picture_in, const Outpaint& m) {
    const Image picture = picture_in.channels == 4 ? flatten_alpha(picture_in) : picture_in;
    const int w = picture.width + m.left + m.right, h = picture.height + m.top + m.bottom;
    Image canvas{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
    Image mask{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 255)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int sx = std::clamp(x - m.left, 0, picture.width - 1), sy = std::clamp(y - m.top, 0, picture.height - 1);
            std::copy_n(picture.at(sx, sy), 3, &canvas.pixels[(static_cast<size_t>(y) * w + x) * 3]);
            const bool inside = x >= m.left && x < m.left + picture.width && y >= m.top && y < m.top + picture.height;
            if (inside) std::fill_n(&mask.pixels[(static_cast<size_t>(y) * w + x) * 3], 3, uint8_t{0});
        }
    return {canvas, mask};
}

std::vector<float> latent_repaint_mask(const Image& l, bool round) {
    // webui: init_mask.convert('RGB').resize((w/8, h/8)) (Pillow's default BICUBIC), / 255, np.around
    const Image small = resize_l(l, l.width / kLatentDownscale, l.height / kLatentDownscale, Resample::Bicubic, false);
    std::vector<float> out(small.pixels.size());
    for (size_t i = 0; i < out.size(); ++i) {
        out[i] = small.pixels[i] / 255.0f;
        if (round) out[i] = std::nearbyint(out[i]);  // np.around: half to even
    }
    return out;
}

Tensor blend_latents(const Tensor& x, const Tensor& init, const std::vector<float>& repaint) {
    const int64_t hw = x.dim(2) * x.dim(3), planes = x.numel() / hw;
    if (static_cast<int64_t>(repaint.size()) != hw || init.numel() != x.numel())
        throw Error::make("latent mask of {} cells for latents {}", repaint.size(), shape_str(x.shape()));
    Tensor out = Tensor::empty(x.shape());
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t i = 0; i < hw; ++i) {
            const float m = repaint[static_cast<size_t>(i)];
            out.f32_mut()[p * hw + i] = init.f32()[p * hw + i] * (1.0f - m) + m * x.f32()[p * hw + i];
        }
    return out;
}

Image paste_inpainted(const Image& generated, const Image& original_in, const std::vector<float>& alpha) {
    Image original = original_in;
    if (original.channels == 4) original = flatten_alpha(original);
    if (original.width != generated.width || original.height != generated.height)
        original = resize_image(original, generated.width, generated.height);
    if (alpha.size() != static_cast<size_t>(generated.width) * generated.height)
        throw Error::make("the overlay mask does not cover the {}x{} picture", generated.width, generated.height);
    Image out = generated;
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) {
            const float a = alpha[static_cast<size_t>(y) * out.width + x];  // the generated picture's share
            uint8_t* px = &out.pixels[y * out.stride() + static_cast<size_t>(x) * out.channels];
            for (int c = 0; c < 3; ++c) px[c] = static_cast<uint8_t>(std::lround(original.at(x, y)[c] * (1.0f - a) + px[c] * a));
        }
    return out;
}

Tensor inpainting_conditioning(const AutoencoderKL& vae, const ModelConfig& cfg, const Tensor& image,
                               const std::vector<float>& mask, const Tensor& noise, Arena& arena,
                               const VaeTilingPolicy& tiling, float mask_weight, bool round) {
    const auto share = [round](float m) { return round ? std::nearbyint(m) : m; };  // webui's round_image_mask
    const int64_t H = image.dim(2), W = image.dim(3);
    if (static_cast<int64_t>(mask.size()) != H * W) throw Error::make("the mask does not cover the {}x{} image", W, H);
    Tensor masked = Tensor::empty({1, 3, H, W});
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < H * W; ++i)
            masked.f32_mut()[c * H * W + i] = image.f32()[c * H * W + i] * (1.0f - mask_weight * share(mask[static_cast<size_t>(i)]));
    const Posterior p = vae_encode(vae, masked, tiling, arena);
    const Tensor mean = p.mean.contiguous(), logvar = p.logvar.contiguous();
    const int64_t h = mean.dim(2), w = mean.dim(3), hw = h * w;
    if (noise.defined() && noise.shape() != mean.shape())
        throw Error::make("the masked image's noise has shape {}, the latent is {}", shape_str(noise.shape()), shape_str(mean.shape()));
    Tensor c = Tensor::empty({1, kInpaintingExtraChannels, h, w});
    float* out = c.mutable_data<float>();
    for (int64_t i = 0; i < h; ++i)  // torch.nn.functional.interpolate(mask, (h, w)), mode 'nearest'
        for (int64_t j = 0; j < w; ++j) out[i * w + j] = share(mask[static_cast<size_t>(i * kLatentDownscale * W + j * kLatentDownscale)]);
    for (int64_t k = 0; k < mean.numel(); ++k) {
        const float z = noise.defined() ? mean.f32()[k] + std::exp(0.5f * logvar.f32()[k]) * noise.f32()[k] : mean.f32()[k];
        out[hw + k] = cfg.vae.scale_factor * z;
    }
    return c;
}

}  // namespace difu
