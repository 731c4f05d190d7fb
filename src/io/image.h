// io/image.h — pictures in and out of difu: PNG / JPEG / WebP codecs (libpng, libjpeg-turbo, libwebp),
// the PNG text chunks and EXIF UserComment that carry webui's "parameters" infotext, and the pixel
// conversions at the two ends of the SD pipeline (VAE input 2*(u8/255)-1, VAE output clamp × 255).
// Every decoder treats its input as hostile: sizes are checked before any allocation and every
// library error becomes one difu::Error line naming the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace difu {

struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;             // 3 = RGB, 4 = RGBA
    std::vector<uint8_t> pixels;  // [height][width][channels], row-major, interleaved

    size_t stride() const { return static_cast<size_t>(width) * channels; }
    const uint8_t* at(int x, int y) const { return pixels.data() + y * stride() + static_cast<size_t>(x) * channels; }
};

// A decoder refuses pictures past these before allocating: 16384 is libpng's default user limit
// and WebP's format maximum, and 64 Mpixel RGBA is 256 MiB of pixels.
inline constexpr int kMaxImageSide = 16384;
inline constexpr int64_t kMaxImagePixels = int64_t{64} << 20;

enum class Alpha { Keep, Drop };  // Keep: RGBA when the file has transparency; Drop: always RGB

// Key/value text as webui stores it: {"parameters", infotext}, in file order.
using TextChunks = std::vector<std::pair<std::string, std::string>>;

// ---- decoding (io/image.cpp dispatches on magic bytes, never on the extension) -----------------
Image read_image(const std::string& path, Alpha alpha = Alpha::Keep);
// `name` stands in for a path in error messages (e.g. "request.init_images[0]").
Image decode_image(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha = Alpha::Keep);

// ---- encoding -----------------------------------------------------------------------------------
// PNG text as Pillow's PngInfo.add_text writes it (webui's save_image_with_geninfo): tEXt when the
// value is Latin-1, else uncompressed iTXt (UTF-8, empty language tag). Keys must be 1-79 Latin-1 bytes.
std::vector<uint8_t> encode_png(const Image& img, const TextChunks& text = {});
void write_png(const std::string& path, const Image& img, const TextChunks& text = {});
// JPEG and WebP carry `comment` the way webui does (piexif): an EXIF UserComment, "UNICODE\0" + UTF-16BE.
// JPEG has no alpha: an RGBA image is written as its RGB channels (webui: image.convert("RGB")).
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 90, const std::string& comment = "");
void write_jpeg(const std::string& path, const Image& img, int quality = 90, const std::string& comment = "");
std::vector<uint8_t> encode_webp(const Image& img, int quality = 90, const std::string& comment = "",
                                 bool lossless = false);
void write_webp(const std::string& path, const Image& img, int quality = 90, const std::string& comment = "",
                bool lossless = false);

// ---- text ---------------------------------------------------------------------------------------
// tEXt / zTXt / iTXt chunks of a PNG, values as UTF-8 (Latin-1 converted), in file order.
TextChunks read_png_text(const std::string& path);
TextChunks decode_png_text(const std::string& name, std::span<const uint8_t> bytes);
// What webui's read_info_from_image finds: a PNG's text chunks, or {"parameters", UserComment} from
// a JPEG / WebP EXIF block (empty when there is none).
TextChunks read_image_text(const std::string& path);
TextChunks decode_image_text(const std::string& name, std::span<const uint8_t> bytes);

// ---- pixel conversions (io/image_convert.cpp) --------------------------------------------------
// VAE output -> pixels: [channels, height, width] floats in [0, 1] (the pipeline has already taken
// clamp((x+1)/2, 0, 1)) to u8 = round(clamp(x, 0, 1) * 255), ties to even like diffusers' numpy_to_pil.
// truncate = true gives webui's and CompVis txt2img.py's `(255. * x).astype(np.uint8)` byte for byte
// (float32 product, then truncation). NaN becomes 0.
Image from_float_chw(const float* data, int channels, int height, int width, bool truncate = false);
// Pixels -> VAE input: [3, height, width] floats 2*(u8/255)-1 in float32, as CompVis img2img.py's
// load_img computes it; an alpha channel is ignored.
std::vector<float> to_float_chw(const Image& img);

// Pillow's Image.resize(size, LANCZOS): separable Lanczos3 (support widened by the scale factor when
// shrinking, i.e. antialiased), horizontal pass then vertical, 8-bit fixed-point accumulation, so an
// RGB result matches Pillow's; RGBA is resized premultiplied, as Pillow does.
enum class Resample { Lanczos, Bicubic };  // Pillow's LANCZOS (webui's resize), BICUBIC (Image.resize's default)
Image resize_image(const Image& img, int width, int height, Resample filter = Resample::Lanczos);
// The largest centered region of aspect width:height (no scaling).
// The region [x0, x0 + w) x [y0, y0 + h) (any channel count); parts outside `img` stay black (Pillow
// paste at an offset).
Image crop_image(const Image& img, int x0, int y0, int w, int h);
Image crop_to_aspect(const Image& img, int width, int height);
// webui's resize_image mode 1 "Crop and resize": scale to cover width x height, then center-crop.
Image resize_and_crop(const Image& img, int width, int height);
// webui's images.flatten: composite RGBA over an opaque background colour, giving RGB (Pillow paste).
// webui's resize_image mode 2 "Resize and fill": scale to fit inside width x height, centred, the empty
// bands filled with the picture's edge pixels repeated outwards.
Image resize_and_fill(const Image& img, int width, int height);
Image flatten_alpha(const Image& img, uint8_t r = 255, uint8_t g = 255, uint8_t b = 255);

}  // namespace difu
