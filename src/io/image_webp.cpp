// io/image_webp.cpp — WebP through libwebp (lossy VP8 and lossless VP8L, still images), and
// libwebpmux to add the EXIF chunk that carries webui's infotext. libwebp reports errors as status
// codes, so no longjmp is involved here.
#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "core/error.h"
#include "io/image_codecs.h"

namespace difu::image_detail {
namespace {

constexpr int kMaxWebpSide = WEBP_MAX_DIMENSION;  // 16383: the encoder's limit (the format's is 16384)

const char* status_text(VP8StatusCode s) {
    switch (s) {
        case VP8_STATUS_OK: return "ok";
        case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
        case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
        case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
        case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
        case VP8_STATUS_SUSPENDED: return "decoding suspended";
        case VP8_STATUS_USER_ABORT: return "decoding aborted";
        case VP8_STATUS_NOT_ENOUGH_DATA: return "the file ends early (truncated?)";
    }
    return "unknown libwebp error";
}

// Owns what WebPEncode* returns.
struct EncodedWebp {
    uint8_t* data = nullptr;
    size_t size = 0;
    ~EncodedWebp() { WebPFree(data); }
};

struct Mux {
    WebPMux* mux = WebPMuxNew();
    WebPData out{};
    ~Mux() {
        WebPDataClear(&out);
        WebPMuxDelete(mux);
    }
};

// The encoder's RIFF, re-assembled by libwebpmux as VP8X with an EXIF chunk after the image.
std::vector<uint8_t> with_exif(const EncodedWebp& webp, const std::vector<uint8_t>& exif) {
    Mux m;
    if (!m.mux) throw Error::make("WebP encoder: cannot create a WebPMux (out of memory?)");
    const WebPData image{webp.data, webp.size};
    const WebPData chunk{exif.data(), exif.size()};
    if (WebPMuxSetImage(m.mux, &image, 1) != WEBP_MUX_OK || WebPMuxSetChunk(m.mux, "EXIF", &chunk, 1) != WEBP_MUX_OK ||
        WebPMuxAssemble(m.mux, &m.out) != WEBP_MUX_OK)
        throw Error::make("WebP encoder: libwebpmux could not add the EXIF chunk");
    return std::vector<uint8_t>(m.out.bytes, m.out.bytes + m.out.size);
}

}  // namespace

Image decode_webp(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) throw Error::at(name, "WebP: libwebp version mismatch");
    VP8StatusCode s = WebPGetFeatures(bytes.data(), bytes.size(), &config.input);
    if (s != VP8_STATUS_OK) throw Error::at(name, "WebP: {}", status_text(s));
    if (config.input.has_animation) throw Error::at(name, "WebP is animated; difu reads still images only");
    check_image_size(name, "WebP", config.input.width, config.input.height);

    Image img;
    img.width = config.input.width;
    img.height = config.input.height;
    img.channels = config.input.has_alpha && alpha == Alpha::Keep ? 4 : 3;
    img.pixels.resize(static_cast<size_t>(img.height) * img.stride());
    config.output.colorspace = img.channels == 4 ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;  // decode straight into img.pixels
    config.output.u.RGBA.rgba = img.pixels.data();
    config.output.u.RGBA.stride = static_cast<int>(img.stride());
    config.output.u.RGBA.size = img.pixels.size();
    s = WebPDecode(bytes.data(), bytes.size(), &config);
    WebPFreeDecBuffer(&config.output);
    if (s != VP8_STATUS_OK) throw Error::at(name, "WebP: {}", status_text(s));
    return img;
}

}  // namespace difu::image_detail

namespace difu {

using namespace image_detail;

std::vector<uint8_t> encode_webp(const Image& img, int quality, const std::string& comment, bool lossless) {
    check_encodable(img, "WebP");
    if (img.width > kMaxWebpSide || img.height > kMaxWebpSide)
        throw Error::make("WebP encoder: {}x{} is larger than WebP allows ({} per side)", img.width, img.height,
                          kMaxWebpSide);
    if (quality < 0 || quality > 100) throw Error::make("WebP encoder: quality {} is outside 0..100", quality);
    const int stride = static_cast<int>(img.stride());
    const auto q = static_cast<float>(quality);
    const uint8_t* px = img.pixels.data();
    EncodedWebp enc;
    if (lossless)
        enc.size = img.channels == 4 ? WebPEncodeLosslessRGBA(px, img.width, img.height, stride, &enc.data)
                                     : WebPEncodeLosslessRGB(px, img.width, img.height, stride, &enc.data);
    else
        enc.size = img.channels == 4 ? WebPEncodeRGBA(px, img.width, img.height, stride, q, &enc.data)
                                     : WebPEncodeRGB(px, img.width, img.height, stride, q, &enc.data);
    if (enc.size == 0) throw Error::make("WebP encoder: libwebp failed to encode a {}x{} image", img.width, img.height);
    if (!comment.empty()) return with_exif(enc, exif_with_user_comment(comment));
    return std::vector<uint8_t>(enc.data, enc.data + enc.size);
}

}  // namespace difu
