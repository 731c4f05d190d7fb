#include "pipeline/inpaint_mask.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"

namespace difu {
namespace {

constexpr uint8_t kAlphaMaskThreshold = 128;  // create_binary_mask: an alpha mask's alpha > 128 repaints
constexpr double kBlurKernelSigmas = 2.5;     // webui: kernel_size = 2 * int(2.5 * sigma + 0.5) + 1

Image blank_l(int width, int height) { return Image{width, height, 1, std::vector<uint8_t>(static_cast<size_t>(width) * height)}; }

// Pillow's convert("L") of an RGB pixel: (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
uint8_t luma(const uint8_t* px, int channels) {
    if (channels < 3) return px[0];
    return static_cast<uint8_t>((19595u * px[0] + 38470u * px[1] + 7471u * px[2] + 0x8000u) >> 16);
}

int reflect101(int i, int n) {  // cv2.BORDER_REFLECT_101: gfedcb|abcdefgh|gfedcba
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

// One direction of cv2.GaussianBlur over a single-channel image: dx, dy = (1, 0) along rows.
Image blur_1d(const Image& in, int sigma, int dx, int dy) {
    const int radius = static_cast<int>(kBlurKernelSigmas * sigma + 0.5);
    std::vector<double> k(static_cast<size_t>(2 * radius + 1));
    double sum = 0;
    for (int i = -radius; i <= radius; ++i) sum += k[static_cast<size_t>(i + radius)] = std::exp(-0.5 * i * i / (double(sigma) * sigma));
    for (double& v : k) v /= sum;
    Image out = blank_l(in.width, in.height);
    for (int y = 0; y < in.height; ++y)
        for (int x = 0; x < in.width; ++x) {
            double acc = 0;
            for (int i = -radius; i <= radius; ++i) {
                const int sx = dx ? reflect101(x + i, in.width) : x, sy = dy ? reflect101(y + i, in.height) : y;
                acc += k[static_cast<size_t>(i + radius)] * in.pixels[static_cast<size_t>(sy) * in.width + sx];
            }
            out.pixels[static_cast<size_t>(y) * in.width + x] = static_cast<uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
        }
    return out;
}

// Pillow's GaussianBlur(radius): three extended box blurs (Gwosdek et al.) of the same variance, each
// with edge pixels repeated; `planes` are float images of width x height, blurred in place.
void pillow_gaussian_blur(std::vector<std::vector<float>>& planes, int width, int height, float radius) {
    if (radius <= 0) return;
    constexpr int kPasses = 3;
    const double sigma2 = double(radius) * radius / kPasses;
    const double big_l = std::sqrt(12.0 * sigma2 + 1.0);
    const double l = std::floor((big_l - 1.0) / 2.0);
    const double a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2) / (6 * (sigma2 - (l + 1) * (l + 1)));
    const int whole = static_cast<int>(l);
    const double scale = 1.0 / (2 * (l + a) + 1);
    std::vector<double> prefix;  // running sums over the line with `whole + 1` repeated edge pixels each side
    auto box = [&](float* p, int n, int step) {
        const int pad = whole + 1;
        auto ext = [&](int i) { return p[static_cast<ptrdiff_t>(std::clamp(i, 0, n - 1)) * step]; };
        prefix.assign(static_cast<size_t>(n + 2 * pad + 1), 0.0);
        for (int i = -pad; i < n + pad; ++i) prefix[static_cast<size_t>(i + pad + 1)] = prefix[static_cast<size_t>(i + pad)] + ext(i);
        std::vector<float> out(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            const double inner = prefix[static_cast<size_t>(i + whole + pad + 1)] - prefix[static_cast<size_t>(i - whole + pad)];
            out[static_cast<size_t>(i)] = static_cast<float>((inner + a * (ext(i - whole - 1) + ext(i + whole + 1))) * scale);
        }
        for (int i = 0; i < n; ++i) p[static_cast<ptrdiff_t>(i) * step] = out[static_cast<size_t>(i)];
    };
    for (auto& plane : planes)
        for (int pass = 0; pass < kPasses; ++pass) {
            for (int y = 0; y < height; ++y) box(plane.data() + static_cast<size_t>(y) * width, width, 1);
            for (int x = 0; x < width; ++x) box(plane.data() + x, height, width);
        }
}

}  // namespace

InpaintFill parse_inpaint_fill(const std::string& name) {
    std::string n;
    for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n == "fill" || n == "0") return InpaintFill::Fill;
    if (n == "original" || n == "1") return InpaintFill::Original;
    if (n == "latent noise" || n == "2") return InpaintFill::LatentNoise;
    if (n == "latent nothing" || n == "3") return InpaintFill::LatentNothing;
    throw Error::make("unknown masked content '{}' (fill, original, latent noise, latent nothing)", name);
}

const char* inpaint_fill_label(InpaintFill fill) {
    switch (fill) {
        case InpaintFill::Fill: return "fill";
        case InpaintFill::Original: return "original";
        case InpaintFill::LatentNoise: return "latent noise";
        case InpaintFill::LatentNothing: return "latent nothing";
    }
    return "original";
}

Image mask_luminance(const Image& mask, bool invert) {
    if (mask.width <= 0 || mask.height <= 0 || mask.pixels.size() != mask.stride() * mask.height)
        throw Error::make("the inpainting mask is empty");
    bool alpha_mask = false;  // webui: an RGBA mask whose alpha is not all 255 masks by its alpha
    if (mask.channels == 4)
        for (size_t i = 3; i < mask.pixels.size() && !alpha_mask; i += 4) alpha_mask = mask.pixels[i] != 255;
    Image l = blank_l(mask.width, mask.height);
    for (int y = 0; y < mask.height; ++y)
        for (int x = 0; x < mask.width; ++x) {
            const uint8_t* px = mask.at(x, y);
            uint8_t v = alpha_mask ? (px[3] > kAlphaMaskThreshold ? 255 : 0) : luma(px, mask.channels);
            l.pixels[static_cast<size_t>(y) * mask.width + x] = invert ? static_cast<uint8_t>(255 - v) : v;
        }
    return l;
}

Image blur_mask(const Image& l, int sigma_x, int sigma_y) {
    if (l.channels != 1) throw Error::make("blur_mask takes a one-channel mask");
    if (sigma_x < 0 || sigma_y < 0) throw Error::make("mask blur must be >= 0, got {}x{}", sigma_x, sigma_y);
    Image out = l;
    if (sigma_x > 0) out = blur_1d(out, sigma_x, 1, 0);
    if (sigma_y > 0) out = blur_1d(out, sigma_y, 0, 1);
    return out;
}

std::optional<PixelBox> masked_box(const Image& l, int padding) {
    PixelBox b{l.width, l.height, -1, -1};
    for (int y = 0; y < l.height; ++y)
        for (int x = 0; x < l.width; ++x)
            if (l.pixels[static_cast<size_t>(y) * l.width + x] > 0) {
                b.x1 = std::min(b.x1, x), b.y1 = std::min(b.y1, y);
                b.x2 = std::max(b.x2, x + 1), b.y2 = std::max(b.y2, y + 1);
            }
    if (b.x2 < 0) return std::nullopt;
    return PixelBox{std::max(b.x1 - padding, 0), std::max(b.y1 - padding, 0), std::min(b.x2 + padding, l.width),
                    std::min(b.y2 + padding, l.height)};
}

PixelBox expand_to_aspect(const PixelBox& box, int width, int height, int image_width, int image_height) {
    // masking.expand_crop_region, integer steps as written there (Python's // floors).
    auto floordiv2 = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
    int x1 = box.x1, y1 = box.y1, x2 = box.x2, y2 = box.y2;
    const double ratio_box = double(x2 - x1) / (y2 - y1), ratio = double(width) / height;
    auto grow = [&](int& lo, int& hi, int diff, int limit) {
        lo -= floordiv2(diff);
        hi += diff - floordiv2(diff);
        if (hi >= limit) {
            const int over = hi - limit;
            hi -= over;
            lo -= over;
        }
        if (lo < 0) {
            hi -= lo;
            lo = 0;
        }
        if (hi >= limit) hi = limit;
    };
    if (ratio_box > ratio)
        grow(y1, y2, static_cast<int>(double(x2 - x1) / ratio - (y2 - y1)), image_height);
    else
        grow(x1, x2, static_cast<int>(double(y2 - y1) * ratio - (x2 - x1)), image_width);
    return {x1, y1, x2, y2};
}

Image crop_box(const Image& img, const PixelBox& b) {
    if (b.x1 < 0 || b.y1 < 0 || b.x2 > img.width || b.y2 > img.height || b.width() <= 0 || b.height() <= 0)
        throw Error::make("crop {},{}..{},{} is outside the {}x{} picture", b.x1, b.y1, b.x2, b.y2, img.width, img.height);
    return crop_image(img, b.x1, b.y1, b.width(), b.height());
}

Image fill_masked(const Image& picture_in, const Image& l) {
    const Image picture = picture_in.channels == 4 ? flatten_alpha(picture_in) : picture_in;
    if (l.channels != 1 || l.width != picture.width || l.height != picture.height)
        throw Error::make("the fill mask ({}x{}) does not match the {}x{} picture", l.width, l.height, picture.width, picture.height);
    const int w = picture.width, h = picture.height;
    const size_t n = static_cast<size_t>(w) * h;
    // image_masked: the picture premultiplied by the kept share (255 - L), in RGBa
    std::vector<std::vector<float>> masked(4, std::vector<float>(n));
    for (size_t i = 0; i < n; ++i) {
        const float keep = (255 - l.pixels[i]) / 255.0f;
        for (int c = 0; c < 3; ++c) masked[c][i] = picture.pixels[i * 3 + c] * keep;
        masked[3][i] = 255.0f * keep;
    }
    std::vector<float> out_c(n * 3, 0.0f), out_a(n, 0.0f);  // image_mod, transparent black at first
    constexpr std::pair<float, int> kLayers[] = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};
    for (const auto& [radius, repeats] : kLayers) {
        std::vector<std::vector<float>> blurred = masked;
        pillow_gaussian_blur(blurred, w, h, radius);
        for (size_t i = 0; i < n; ++i) {
            const float sa = std::round(blurred[3][i]) / 255.0f;
            if (sa <= 0) continue;
            for (int rep = 0; rep < repeats; ++rep) {  // alpha_composite of the unpremultiplied layer
                const float da = out_a[i], oa = sa + da * (1 - sa);
                for (int c = 0; c < 3; ++c) {
                    const float sc = std::clamp(std::round(blurred[c][i] / sa), 0.0f, 255.0f);
                    out_c[i * 3 + c] = std::round((sc * sa + out_c[i * 3 + c] * da * (1 - sa)) / oa);
                }
                out_a[i] = oa;
            }
        }
    }
    Image out{w, h, 3, std::vector<uint8_t>(n * 3)};
    for (size_t i = 0; i < n * 3; ++i) out.pixels[i] = static_cast<uint8_t>(std::clamp(out_c[i], 0.0f, 255.0f));
    return out;
}

}  // namespace difu
