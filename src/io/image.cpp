// io/image.cpp — picks the codec from the file's first bytes (never its extension), checks sizes, and
// reads / writes whole files; the codecs live in image_png.cpp, image_jpeg.cpp and image_webp.cpp.
#include "io/image.h"
#include "core/utf8.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/storage.h"
#include "io/image_codecs.h"

namespace difu {
namespace image_detail {

void check_image_size(const std::string& name, const char* format, int64_t width, int64_t height) {
    if (width < 1 || height < 1)
        throw Error::at(name, "{} image has size {}x{}", format, width, height);
    if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels)
        throw Error::at(name, "{} image is {}x{}, larger than difu accepts (at most {} per side and {} Mpixel)",
                        format, width, height, kMaxImageSide, kMaxImagePixels >> 20);
}

void check_encodable(const Image& img, const char* format) {
    if (img.channels != 3 && img.channels != 4)
        throw Error::make("{} encoder: image has {} channels (3 = RGB or 4 = RGBA expected)", format, img.channels);
    if (img.width < 1 || img.height < 1 || img.width > kMaxImageSide || img.height > kMaxImageSide ||
        int64_t{img.width} * img.height > kMaxImagePixels)
        throw Error::make("{} encoder: image size {}x{} is outside 1..{} per side / {} Mpixel", format, img.width,
                          img.height, kMaxImageSide, kMaxImagePixels >> 20);
    if (img.pixels.size() != static_cast<size_t>(img.height) * img.stride())
        throw Error::make("{} encoder: {}x{}x{} image has {} bytes of pixels, expected {}", format, img.width,
                          img.height, img.channels, img.pixels.size(), static_cast<size_t>(img.height) * img.stride());
}

bool decode_utf8(std::string_view s, std::u32string* out) {
    out->clear();
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<uint8_t>(s[i]);
        const int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        char32_t c = len == 1 ? b : b & (0x7F >> len);
        for (int k = 1; k < len; ++k) {
            const auto cb = static_cast<uint8_t>(s[i + k]);
            if ((cb & 0xC0) != 0x80) return false;
            c = (c << 6) | (cb & 0x3F);
        }
        static constexpr char32_t kMinOfLength[5] = {0, 0, 0x80, 0x800, 0x10000};  // shorter forms are overlong
        if (c < kMinOfLength[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        out->push_back(c);
        i += len;
    }
    return true;
}

std::string latin1_to_utf8(std::string_view latin1) {
    std::string out;
    out.reserve(latin1.size());
    for (char ch : latin1) append_utf8(out, static_cast<uint8_t>(ch));
    return out;
}

}  // namespace image_detail

namespace {

using namespace image_detail;

enum class Format { Png, Jpeg, Webp, Unknown };

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool starts_with(std::span<const uint8_t> b, std::string_view magic, size_t at = 0) {
    return b.size() >= at + magic.size() && std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
}

Format sniff(std::span<const uint8_t> b) {
    if (b.size() >= 8 && std::memcmp(b.data(), kPngSignature, 8) == 0) return Format::Png;
    if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Format::Jpeg;
    if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return Format::Webp;
    return Format::Unknown;
}

// Names formats that people do try to load, so the message says what the file is.
std::string describe_unknown(std::span<const uint8_t> b) {
    if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return "a GIF image";
    if (starts_with(b, "BM")) return "a BMP image";
    if (starts_with(b, {"II*\0", 4}) || starts_with(b, {"MM\0*", 4})) return "a TIFF image";
    if (starts_with(b, "ftyp", 4)) return "an ISO media file (AVIF / HEIC?)";
    const std::string_view head(reinterpret_cast<const char*>(b.data()), std::min<size_t>(b.size(), 16));
    if (std::all_of(head.begin(), head.end(), [](char c) { return (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\t'; }))
        return fmt::format("looks like text ('{}')", printable(head));
    std::string hex;
    for (size_t i = 0; i < b.size() && i < 8; ++i) hex += fmt::format("{}{:02x}", i ? " " : "", b[i]);
    return fmt::format("a file starting with bytes [{}]", hex);
}

std::shared_ptr<MappedFile> open_image_file(const std::string& path) {
    auto file = MappedFile::open(path);
    if (file->size() == 0) throw Error::at(path, "file is empty (0 bytes), not an image");
    return file;
}

std::span<const uint8_t> bytes_of(const MappedFile& f) {
    return {reinterpret_cast<const uint8_t*>(f.data()), f.size()};
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw Error::at(path, "cannot create: {}", std::strerror(errno));
    const size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
    const int e = errno;
    const bool closed = std::fclose(f) == 0;
    if (n != bytes.size() || !closed)
        throw Error::at(path, "writing {} bytes failed: {}", bytes.size(), std::strerror(n != bytes.size() ? e : errno));
}

}  // namespace

Image decode_image(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha) {
    if (bytes.empty()) throw Error::at(name, "no image data (0 bytes)");
    switch (sniff(bytes)) {
        case Format::Png: return decode_png(name, bytes, alpha);
        case Format::Jpeg: return decode_jpeg(name, bytes, alpha);
        case Format::Webp: return decode_webp(name, bytes, alpha);
        case Format::Unknown: break;
    }
    throw Error::at(name, "not a PNG, JPEG or WebP image: {}", describe_unknown(bytes));
}

Image read_image(const std::string& path, Alpha alpha) {
    auto file = open_image_file(path);
    return decode_image(path, bytes_of(*file), alpha);
}

TextChunks decode_image_text(const std::string& name, std::span<const uint8_t> bytes) {
    const Format f = sniff(bytes);
    if (f == Format::Png) return decode_png_text(name, bytes);
    if (f == Format::Unknown) throw Error::at(name, "not a PNG, JPEG or WebP image: {}", describe_unknown(bytes));
    const std::string comment = exif_user_comment(f == Format::Jpeg ? jpeg_exif(bytes) : webp_exif(bytes));
    if (comment.empty()) return {};
    return {{"parameters", comment}};
}

TextChunks read_png_text(const std::string& path) {
    auto file = open_image_file(path);
    return decode_png_text(path, bytes_of(*file));
}

TextChunks read_image_text(const std::string& path) {
    auto file = open_image_file(path);
    return decode_image_text(path, bytes_of(*file));
}

namespace {

// Encoders know no path; their one-line errors get it here.
template <typename Encode>
void encode_to_file(const std::string& path, Encode encode) {
    std::vector<uint8_t> bytes;
    try {
        bytes = encode();
    } catch (const Error& e) {
        throw Error::at(path, "{}", e.what());
    }
    write_file(path, bytes);
}

}  // namespace

void write_png(const std::string& path, const Image& img, const TextChunks& text) {
    encode_to_file(path, [&] { return encode_png(img, text); });
}

void write_jpeg(const std::string& path, const Image& img, int quality, const std::string& comment) {
    encode_to_file(path, [&] { return encode_jpeg(img, quality, comment); });
}

void write_webp(const std::string& path, const Image& img, int quality, const std::string& comment, bool lossless) {
    encode_to_file(path, [&] { return encode_webp(img, quality, comment, lossless); });
}

}  // namespace difu
