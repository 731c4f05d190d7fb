#include "pipeline/watermark_dwtdct.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace difu {
namespace {

constexpr double kHaar = 0.7071067811865476;  // pywt's haar filter taps, 1 / sqrt(2) in float64
constexpr double kScale = 36.0;               // EmbedMaxDct's scales[1], the U channel's step
constexpr int kBlock = 4;                     // cA block side
constexpr int kShift = 14;                    // OpenCV's fixed-point YUV: 14 fractional bits
constexpr int64_t kHalf = int64_t{128} << kShift;

int64_t descale(int64_t x) { return (x + (int64_t{1} << (kShift - 1))) >> kShift; }  // arithmetic shift: floor
uint8_t saturate(int64_t v) { return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255)); }

// Python's float floor division and modulo (floatobject.c), for the library's `val // scale` and `val % scale`.
double py_floordiv(double v, double w) {
    double mod = std::fmod(v, w);
    double div = (v - mod) / w;
    if (mod != 0 && ((w < 0) != (mod < 0))) div -= 1.0;
    if (div == 0) return std::copysign(0.0, v / w);
    double floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
    return floordiv;
}
double py_mod(double v, double w) {
    double mod = std::fmod(v, w);
    if (mod != 0 && ((w < 0) != (mod < 0))) mod += w;
    return mod;
}

struct Planes {  // OpenCV's COLOR_BGR2YUV of a uint8 picture
    int width = 0, height = 0;
    std::vector<int64_t> y;
    std::vector<uint8_t> u, v;
};

Planes to_yuv(const Image& img) {
    if (img.channels < 3) throw Error::make("the watermark needs an RGB picture");
    Planes p{img.width, img.height, {}, {}, {}};
    const size_t n = static_cast<size_t>(img.width) * img.height;
    p.y.resize(n), p.u.resize(n), p.v.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const int64_t r = img.pixels[i * img.channels], g = img.pixels[i * img.channels + 1], b = img.pixels[i * img.channels + 2];
        const int64_t y = descale(1868 * b + 9617 * g + 4899 * r);
        p.y[i] = y;
        p.u[i] = saturate(descale((b - y) * 8061 + kHalf));
        p.v[i] = saturate(descale((r - y) * 14369 + kHalf));
    }
    return p;
}

void to_rgb(const Planes& p, Image& img) {
    const size_t n = static_cast<size_t>(p.width) * p.height;
    for (size_t i = 0; i < n; ++i) {
        const int64_t y = p.y[i], u = int64_t{p.u[i]} - 128, v = int64_t{p.v[i]} - 128;
        uint8_t* px = &img.pixels[i * img.channels];
        px[2] = saturate(y + descale(u * 33292));
        px[1] = saturate(y + descale(u * -6472 + v * -9519));
        px[0] = saturate(y + descale(v * 18678));
    }
}

// One Haar level of the U plane's top-left rows x cols (both even), in pywt's operation order.
struct Bands {
    int rows = 0, cols = 0;  // of each band
    std::vector<double> a, h, v, d;
    double& at(std::vector<double>& band, int i, int j) { return band[static_cast<size_t>(i) * cols + j]; }
};

Bands haar_forward(const Planes& p, int rows, int cols) {
    const int hr = rows / 2, hc = cols / 2;
    std::vector<double> a0(static_cast<size_t>(hr) * cols), d0(a0.size());  // along axis 0 (rows)
    for (int i = 0; i < hr; ++i)
        for (int j = 0; j < cols; ++j) {
            const double top = p.u[static_cast<size_t>(2 * i) * p.width + j], bottom = p.u[static_cast<size_t>(2 * i + 1) * p.width + j];
            a0[static_cast<size_t>(i) * cols + j] = kHaar * bottom + kHaar * top;
            d0[static_cast<size_t>(i) * cols + j] = -kHaar * bottom + kHaar * top;
        }
    Bands b{hr, hc, {}, {}, {}, {}};
    for (auto* band : {&b.a, &b.h, &b.v, &b.d}) band->resize(static_cast<size_t>(hr) * hc);
    for (int i = 0; i < hr; ++i)
        for (int j = 0; j < hc; ++j) {
            const size_t l = static_cast<size_t>(i) * cols + 2 * j, r = l + 1, o = static_cast<size_t>(i) * hc + j;
            b.a[o] = kHaar * a0[r] + kHaar * a0[l];   // cA
            b.h[o] = kHaar * d0[r] + kHaar * d0[l];   // cH
            b.v[o] = -kHaar * a0[r] + kHaar * a0[l];  // cV
            b.d[o] = -kHaar * d0[r] + kHaar * d0[l];  // cD
        }
    return b;
}

// pywt.idwt2((cA, (H, V, D))) with the library's swap: it hands over cV as H and cH as V. The result is
// cast into the uint8 plane as numpy does (truncation toward zero, modulo 256).
void haar_inverse_swapped(Bands& b, Planes& p) {
    const int hr = b.rows, hc = b.cols, cols = 2 * hc;
    const std::vector<double>& h_slot = b.v;  // the swap
    const std::vector<double>& v_slot = b.h;
    std::vector<double> a0(static_cast<size_t>(hr) * cols), d0(a0.size());  // along axis 1
    for (int i = 0; i < hr; ++i)
        for (int j = 0; j < hc; ++j) {
            const size_t o = static_cast<size_t>(i) * hc + j, e = static_cast<size_t>(i) * cols + 2 * j;
            a0[e] = kHaar * b.a[o] + kHaar * v_slot[o];
            a0[e + 1] = kHaar * b.a[o] - kHaar * v_slot[o];
            d0[e] = kHaar * h_slot[o] + kHaar * b.d[o];
            d0[e + 1] = kHaar * h_slot[o] - kHaar * b.d[o];
        }
    auto store = [&](int row, int col, double value) {
        p.u[static_cast<size_t>(row) * p.width + col] = static_cast<uint8_t>(static_cast<int64_t>(value) & 0xFF);
    };
    for (int i = 0; i < hr; ++i)
        for (int j = 0; j < cols; ++j) {
            const size_t o = static_cast<size_t>(i) * cols + j;
            store(2 * i, j, kHaar * a0[o] + kHaar * d0[o]);
            store(2 * i + 1, j, kHaar * a0[o] - kHaar * d0[o]);
        }
}

// The coefficient a block carries its bit in: the largest |value| past the block's first (first wins).
double& carrier(Bands& b, int block_row, int block_col) {
    double* best = nullptr;
    for (int k = 1; k < kBlock * kBlock; ++k) {
        double& v = b.at(b.a, block_row * kBlock + k / kBlock, block_col * kBlock + k % kBlock);
        if (!best || std::abs(v) > std::abs(*best)) best = &v;
    }
    return *best;
}

void check_size(const Image& img) {
    if (int64_t{img.width} * img.height < kWatermarkMinPixels)
        throw Error::make("the dwtDct watermark needs at least 256x256 pixels (the product), got {}x{}", img.width, img.height);
}

}  // namespace

std::vector<uint8_t> bits_of_bytes(const std::string& bytes) {
    std::vector<uint8_t> bits;
    for (unsigned char c : bytes)
        for (int k = 7; k >= 0; --k) bits.push_back(static_cast<uint8_t>((c >> k) & 1));
    return bits;
}

std::string bytes_of_bits(const std::vector<uint8_t>& bits) {
    std::string out((bits.size() + 7) / 8, '\0');
    for (size_t i = 0; i < bits.size(); ++i)
        if (bits[i]) out[i / 8] = static_cast<char>(out[i / 8] | (0x80 >> (i % 8)));
    return out;
}

std::vector<uint8_t> sd1_watermark_bits() { return bits_of_bytes("StableDiffusionV1"); }

std::vector<uint8_t> sdxl_watermark_bits() {
    constexpr uint64_t kSdxlMessage = 0xB3EC907BB19Eull;  // sgm's WATERMARK_MESSAGE, 48 bits
    std::vector<uint8_t> bits;
    for (int k = 47; k >= 0; --k) bits.push_back(static_cast<uint8_t>((kSdxlMessage >> k) & 1));
    return bits;
}

std::vector<uint8_t> parse_watermark_message(const std::string& spec) {
    if (spec == "sd1") return sd1_watermark_bits();
    if (spec == "sdxl") return sdxl_watermark_bits();
    if (spec.rfind("hex:", 0) == 0) {
        const std::string hex = spec.substr(4);
        if (hex.empty() || hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
            throw Error::make("watermark '{}': hex: takes an even number of hex digits", spec);
        std::string bytes;
        for (size_t i = 0; i < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
        return bits_of_bytes(bytes);
    }
    if (spec.empty()) throw Error::make("an empty watermark message");
    return bits_of_bytes(spec);
}

Image embed_watermark_dwtdct(const Image& rgb, const std::vector<uint8_t>& bits) {
    check_size(rgb);
    if (bits.empty()) throw Error::make("an empty watermark message");
    Planes p = to_yuv(rgb);
    const int rows = rgb.height / 4 * 4, cols = rgb.width / 4 * 4;
    Bands b = haar_forward(p, rows, cols);
    const int block_rows = b.rows / kBlock, block_cols = b.cols / kBlock;
    for (int br = 0; br < block_rows; ++br)
        for (int bc = 0; bc < block_cols; ++bc) {
            const double bit = bits[static_cast<size_t>(br * block_cols + bc) % bits.size()] ? 1.0 : 0.0;
            double& v = carrier(b, br, bc);
            const double step = py_floordiv(std::abs(v), kScale) + 0.25 + 0.5 * bit;
            v = v >= 0.0 ? step * kScale : -1.0 * step * kScale;
        }
    haar_inverse_swapped(b, p);
    Image out = rgb;
    to_rgb(p, out);
    return out;
}

WatermarkReading detect_watermark_dwtdct(const Image& rgb, int length) {
    check_size(rgb);
    if (length <= 0) throw Error::make("watermark length must be positive, got {}", length);
    const Planes p = to_yuv(rgb);
    Bands b = haar_forward(p, rgb.height / 4 * 4, rgb.width / 4 * 4);
    const int block_rows = b.rows / kBlock, block_cols = b.cols / kBlock;
    std::vector<double> votes(static_cast<size_t>(length), 0.0), counts(votes.size(), 0.0);
    for (int br = 0; br < block_rows; ++br)
        for (int bc = 0; bc < block_cols; ++bc) {
            const size_t k = static_cast<size_t>(br * block_cols + bc) % votes.size();
            votes[k] += py_mod(std::abs(carrier(b, br, bc)), kScale) > 0.5 * kScale ? 1.0 : 0.0;
            counts[k] += 1.0;
        }
    WatermarkReading r;
    for (size_t k = 0; k < votes.size(); ++k) {
        r.scores.push_back(counts[k] > 0 ? votes[k] / counts[k] : 0.0);
        r.bits.push_back(r.scores.back() * 255 > 127 ? 1 : 0);
    }
    return r;
}

}  // namespace difu
