// io/image_convert.cpp — pixels <-> the floats the VAE sees, and the geometric steps webui applies to
// an init image (Pillow's LANCZOS resize, "Crop and resize", flattening alpha onto a background).
#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "io/image_codecs.h"

namespace difu {
namespace {

void check_image(const Image& img, const char* what) {
    if ((img.channels != 3 && img.channels != 4) || img.width < 1 || img.height < 1 ||
        img.pixels.size() != static_cast<size_t>(img.height) * img.stride())
        throw Error::make("{}: malformed image {}x{}x{} with {} bytes", what, img.width, img.height, img.channels,
                          img.pixels.size());
}

Image blank(int width, int height, int channels) {
    Image out;
    out.width = width;
    out.height = height;
    out.channels = channels;
    out.pixels.resize(static_cast<size_t>(height) * out.stride());
    return out;
}

// ---- Pillow's resampling (libImaging/Resample.c), 8 bits per channel -----------------------------

constexpr double kLanczosSupport = 3.0;
constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS: fixed-point weights

double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= std::numbers::pi;
    return std::sin(x) / x;
}

double lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

constexpr double kBicubicSupport = 2.0, kBicubicA = -0.5;  // Pillow's bicubic_filter
double bicubic(double x) {
    x = std::fabs(x);
    if (x < 1.0) return ((kBicubicA + 2.0) * x - (kBicubicA + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * kBicubicA;
    return 0.0;
}

// For each output index: the first input index, how many inputs, and their fixed-point weights
// (ksize per output, zero-padded), exactly as Pillow's precompute_coeffs + normalize_coeffs_8bpc.
struct Kernel {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<int32_t> weights;
};

Kernel make_kernel(int in_size, int out_size, Resample filter) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filterscale = std::max(scale, 1.0);  // shrinking widens the filter: antialiasing
    const double support = (filter == Resample::Bicubic ? kBicubicSupport : kLanczosSupport) * filterscale;
    auto f = filter == Resample::Bicubic ? bicubic : lanczos3;
    const double ss = 1.0 / filterscale;  // multiplied, not divided, so the weights match Pillow's bits
    Kernel k;
    k.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    k.first.resize(out_size);
    k.count.resize(out_size);
    k.weights.assign(static_cast<size_t>(out_size) * k.ksize, 0);
    std::vector<double> w(k.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
        const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) ww += w[x] = f((x + xmin - center + 0.5) * ss);
        for (int x = 0; x < xmax; ++x) {
            const double v = (ww != 0.0 ? w[x] / ww : w[x]) * (1 << kPrecisionBits);
            k.weights[static_cast<size_t>(xx) * k.ksize + x] = static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);
        }
        k.first[xx] = xmin;
        k.count[xx] = xmax;
    }
    return k;
}

uint8_t clip8(int32_t acc) { return static_cast<uint8_t>(std::clamp(acc >> kPrecisionBits, 0, 255)); }

// One pass along x (step = channels) or y (step = stride): out[i] = Σ_j w_ij in[first_i + j].
Image resample_x(const Image& in, int out_w, Resample filter) {
    const Kernel k = make_kernel(in.width, out_w, filter);
    Image out = blank(out_w, in.height, in.channels);
    for (int y = 0; y < in.height; ++y)
        for (int xx = 0; xx < out_w; ++xx)
            for (int c = 0; c < in.channels; ++c) {
                int32_t acc = 1 << (kPrecisionBits - 1);
                const int32_t* w = &k.weights[static_cast<size_t>(xx) * k.ksize];
                for (int j = 0; j < k.count[xx]; ++j) acc += in.at(k.first[xx] + j, y)[c] * w[j];
                out.pixels[y * out.stride() + static_cast<size_t>(xx) * in.channels + c] = clip8(acc);
            }
    return out;
}

Image resample_y(const Image& in, int out_h, Resample filter) {
    const Kernel k = make_kernel(in.height, out_h, filter);
    Image out = blank(in.width, out_h, in.channels);
    const size_t row = in.stride();
    for (int yy = 0; yy < out_h; ++yy) {
        const int32_t* w = &k.weights[static_cast<size_t>(yy) * k.ksize];
        for (size_t i = 0; i < row; ++i) {
            int32_t acc = 1 << (kPrecisionBits - 1);
            for (int j = 0; j < k.count[yy]; ++j) acc += in.pixels[(k.first[yy] + j) * row + i] * w[j];
            out.pixels[yy * row + i] = clip8(acc);
        }
    }
    return out;
}

uint8_t muldiv255(unsigned a, unsigned b) {  // Pillow's MULDIV255 / DIV255: round(a * b / 255)
    const unsigned t = a * b + 128;
    return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

// Pillow resizes RGBA as premultiplied "RGBa" (Convert.c rgbA2rgba / rgba2rgbA).
void premultiply(Image& img) {
    for (size_t i = 0; i < img.pixels.size(); i += 4)
        for (int c = 0; c < 3; ++c) img.pixels[i + c] = muldiv255(img.pixels[i + c], img.pixels[i + 3]);
}

void unpremultiply(Image& img) {
    for (size_t i = 0; i < img.pixels.size(); i += 4) {
        const unsigned a = img.pixels[i + 3];
        if (a == 0 || a == 255) continue;
        for (int c = 0; c < 3; ++c) img.pixels[i + c] = static_cast<uint8_t>(std::min(255u, 255u * img.pixels[i + c] / a));
    }
}

void check_target(int width, int height, const char* what) {
    if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide)
        throw Error::make("{}: target size {}x{} is outside 1..{}", what, width, height, kMaxImageSide);
}

}  // namespace

Image from_float_chw(const float* data, int channels, int height, int width, bool truncate) {
    if (channels != 3 && channels != 4) throw Error::make("from_float_chw: {} channels (3 or 4 expected)", channels);
    check_target(width, height, "from_float_chw");
    Image out = blank(width, height, channels);
    const size_t plane = static_cast<size_t>(height) * width;
    for (int c = 0; c < channels; ++c)
        for (size_t i = 0; i < plane; ++i) {
            float x = data[c * plane + i];
            x = x >= 0.0f ? std::min(x, 1.0f) : 0.0f;  // also maps NaN to 0
            const float v = 255.0f * x;                  // float32, as numpy computes 255. * float32 array
            out.pixels[i * channels + c] = static_cast<uint8_t>(truncate ? v : std::nearbyint(v));
        }
    return out;
}

std::vector<float> to_float_chw(const Image& img) {
    check_image(img, "to_float_chw");
    const size_t plane = static_cast<size_t>(img.height) * img.width;
    std::vector<float> out(3 * plane);
    for (size_t i = 0; i < plane; ++i)
        for (int c = 0; c < 3; ++c) {
            const float x = static_cast<float>(img.pixels[i * img.channels + c]) / 255.0f;  // np.float32 / 255.0
            out[c * plane + i] = 2.0f * x - 1.0f;                                         // torch: 2.*image - 1.
        }
    return out;
}

Image resize_image(const Image& img, int width, int height, Resample filter) {
    check_image(img, "resize_image");
    check_target(width, height, "resize_image");
    if (width == img.width && height == img.height) return img;  // Pillow returns a copy, even for RGBA
    Image work = img;
    if (work.channels == 4) premultiply(work);
    if (width != work.width) work = resample_x(work, width, filter);  // Pillow: horizontal pass first
    if (height != work.height) work = resample_y(work, height, filter);
    if (work.channels == 4) unpremultiply(work);
    return work;
}

Image crop_image(const Image& img, int x0, int y0, int w, int h) {
    Image out = blank(w, h, img.channels);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int sx = x0 + x, sy = y0 + y;
            if (sx < 0 || sy < 0 || sx >= img.width || sy >= img.height) continue;
            std::copy_n(img.at(sx, sy), img.channels, &out.pixels[y * out.stride() + static_cast<size_t>(x) * img.channels]);
        }
    return out;
}

Image crop_to_aspect(const Image& img, int width, int height) {
    check_image(img, "crop_to_aspect");
    check_target(width, height, "crop_to_aspect");
    int w = img.width, h = img.height;
    if (int64_t{img.width} * height > int64_t{img.height} * width)  // wider than the target: trim the sides
        w = std::max<int>(1, static_cast<int>(int64_t{img.height} * width / height));
    else
        h = std::max<int>(1, static_cast<int>(int64_t{img.width} * height / width));
    return crop_image(img, (img.width - w) / 2, (img.height - h) / 2, w, h);
}

Image resize_and_crop(const Image& img, int width, int height) {
    check_image(img, "resize_and_crop");
    check_target(width, height, "resize_and_crop");
    // webui images.resize_image, resize_mode 1, integer arithmetic as written there.
    const double ratio = static_cast<double>(width) / height;
    const double src_ratio = static_cast<double>(img.width) / img.height;
    const int src_w = ratio > src_ratio ? width : static_cast<int>(int64_t{img.width} * height / img.height);
    const int src_h = ratio <= src_ratio ? height : static_cast<int>(int64_t{img.height} * width / img.width);
    const Image resized = resize_image(img, std::max(src_w, 1), std::max(src_h, 1));
    // res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
    return crop_image(resized, src_w / 2 - width / 2, src_h / 2 - height / 2, width, height);
}

Image resize_and_fill(const Image& img, int width, int height) {
    check_image(img, "resize_and_fill");
    check_target(width, height, "resize_and_fill");
    // webui images.resize_image, resize_mode 2, integer arithmetic as written there.
    const double ratio = static_cast<double>(width) / height;
    const double src_ratio = static_cast<double>(img.width) / img.height;
    const int src_w = ratio < src_ratio ? width : static_cast<int>(int64_t{img.width} * height / img.height);
    const int src_h = ratio >= src_ratio ? height : static_cast<int>(int64_t{img.height} * width / img.width);
    const Image resized = resize_image(img, std::max(src_w, 1), std::max(src_h, 1));
    const int x0 = width / 2 - src_w / 2, y0 = height / 2 - src_h / 2;  // where the resized picture is pasted
    Image out = blank(width, height, img.channels);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            // Inside: the picture; in the bands: its nearest edge pixel (webui stretches the edge row /
            // column, Pillow resizing a zero-width box there).
            const int sx = std::clamp(x - x0, 0, resized.width - 1), sy = std::clamp(y - y0, 0, resized.height - 1);
            std::copy_n(resized.at(sx, sy), img.channels, out.pixels.begin() + static_cast<ptrdiff_t>(y * out.stride() + x * img.channels));
        }
    return out;
}

Image flatten_alpha(const Image& img, uint8_t r, uint8_t g, uint8_t b) {
    check_image(img, "flatten_alpha");
    if (img.channels == 3) return img;
    Image out = blank(img.width, img.height, 3);
    const uint8_t bg[3] = {r, g, b};
    const size_t n = static_cast<size_t>(img.width) * img.height;
    for (size_t i = 0; i < n; ++i) {
        const unsigned a = img.pixels[i * 4 + 3];
        for (int c = 0; c < 3; ++c) {  // Pillow paste_mask_RGBA: DIV255(bg * (255 - a) + src * a)
            const unsigned t = bg[c] * (255 - a) + img.pixels[i * 4 + c] * a + 128;
            out.pixels[i * 3 + c] = static_cast<uint8_t>(((t >> 8) + t) >> 8);
        }
    }
    return out;
}

}  // namespace difu
