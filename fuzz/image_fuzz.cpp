// fuzz/image_fuzz.cpp — any bytes through the image decoders (PNG / JPEG / WebP by magic bytes), the
// text-chunk readers and the infotext parser. Only difu::Error may escape, and its message must be one
// line; a decoded picture is read in full so that a wrong size shows up under ASan.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/image.h"
#include "io/png_info.h"

namespace {

constexpr int kMaxRoundTripPixels = 64 * 64;  // keeps each input fast

// The front ends print an Error as one line; a newline from hostile bytes would break that.
void check_one_line(const difu::Error& e) {
    if (std::strchr(e.what(), '\n')) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    for (difu::Alpha alpha : {difu::Alpha::Keep, difu::Alpha::Drop}) {
        try {
            difu::Image img = difu::decode_image("fuzz.img", bytes, alpha);
            volatile uint8_t sink = 0;
            for (uint8_t p : img.pixels) sink = sink ^ p;
            if (img.width * img.height <= kMaxRoundTripPixels) {  // the encoder and the resampler, on what decoded
                if (difu::decode_image("rt.png", difu::encode_png(img)).pixels != img.pixels) std::abort();
                (void)difu::resize_image(img, 7, 5);
            }
        } catch (const difu::Error& e) {
            check_one_line(e);
        }
    }
    try {
        for (const auto& [key, value] : difu::decode_image_text("fuzz.img", bytes)) (void)difu::parse_infotext(value);
    } catch (const difu::Error& e) {
        check_one_line(e);
    }
    try {
        (void)difu::parse_infotext(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const difu::Error& e) {
        check_one_line(e);
    }
    return 0;
}
