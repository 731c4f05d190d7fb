// pipeline/watermark_dwtdct.h — the invisible watermark of the SD releases, bit-compatible with the
// invisible-watermark library's "dwtDct" method (imwatermark EmbedMaxDct, scales [0, 36, 36], 4x4
// blocks) as CompVis's txt2img.py (136-bit "StableDiffusionV1") and SDXL's sgm (48 bits) call it:
//   U = OpenCV's fixed-point BGR->YUV U channel (uint8), cropped to whole 4x4 pixel cells;
//   cA = the approximation band of one Haar level (pywt.dwt2, float64, pywt's operation order);
//   each 4x4 block of cA (raster order) carries bit num % length: its largest |coefficient| past the
//   first, v, is moved to (floor(|v| / 36) + 0.25 + 0.5 bit) · 36 with v's sign;
//   the inverse Haar with the library's H/V bands swapped, truncated into uint8, YUV->BGR (fixed point).
// Detection takes the same coefficient per block, votes |v| mod 36 > 18 and averages the votes per bit.
// The library refuses pictures of fewer than 256 x 256 pixels (the product); so does this.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace difu {

inline constexpr int kWatermarkMinPixels = 256 * 256;

// The payloads the releases use: "StableDiffusionV1" as bytes (136 bits), and SDXL's 0xB3EC907BB19E (48).
std::vector<uint8_t> sd1_watermark_bits();
std::vector<uint8_t> sdxl_watermark_bits();
// A message as the library's 'bytes' type takes it: MSB first per byte.
std::vector<uint8_t> bits_of_bytes(const std::string& bytes);
std::string bytes_of_bits(const std::vector<uint8_t>& bits);  // np.packbits; a partial last byte is zero-padded
// "sd1", "sdxl", "hex:0123abcd" or any other text (its UTF-8 bytes). Error for an empty message.
std::vector<uint8_t> parse_watermark_message(const std::string& spec);

// The picture (RGB or RGBA, alpha kept) with `bits` embedded, as put_watermark returns it.
Image embed_watermark_dwtdct(const Image& rgb, const std::vector<uint8_t>& bits);

struct WatermarkReading {
    std::vector<uint8_t> bits;     // avg_scores · 255 > 127
    std::vector<double> scores;    // per bit: the share of its blocks that voted 1
};
// WatermarkDecoder(..., length).decode(bgr, 'dwtDct') of an RGB(A) picture.
WatermarkReading detect_watermark_dwtdct(const Image& rgb, int length);

}  // namespace difu
