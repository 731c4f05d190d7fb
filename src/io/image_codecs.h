// io/image_codecs.h — internal to io/image*.cpp: the per-format codecs behind io/image.h, and the
// small byte-level helpers they share (size limits, UTF-8 <-> Latin-1 / UTF-16, EXIF UserComment).
#pragma once
#include "core/utf8.h"
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/image.h"

namespace difu::image_detail {

// Throws Error naming `name` unless 1 <= width, height <= kMaxImageSide and width*height <= kMaxImagePixels.
void check_image_size(const std::string& name, const char* format, int64_t width, int64_t height);
// Throws unless img is a consistent 3- or 4-channel picture that a decoder would also accept.
void check_encodable(const Image& img, const char* format);

Image decode_png(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha);   // image_png.cpp
Image decode_jpeg(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha);  // image_jpeg.cpp
Image decode_webp(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha);  // image_webp.cpp

// UTF-8 -> code points; false on ill-formed input (overlong, surrogate, > U+10FFFF, truncated).
bool decode_utf8(std::string_view s, std::u32string* out);
std::string latin1_to_utf8(std::string_view latin1);

// EXIF (image_exif.cpp): a big-endian TIFF block holding only an Exif IFD with UserComment =
// "UNICODE\0" + UTF-16BE(text), as piexif.dump + UserComment.dump(encoding="unicode") build it for webui.
std::vector<uint8_t> exif_with_user_comment(const std::string& utf8_text);
// The UserComment of a TIFF block as webui's read_info_from_image decodes it; "" when absent or malformed.
std::string exif_user_comment(std::span<const uint8_t> tiff);
// The TIFF block of a JPEG's "Exif\0\0" APP1 segment / a WebP's EXIF chunk; empty when there is none.
std::span<const uint8_t> jpeg_exif(std::span<const uint8_t> jpeg);
std::span<const uint8_t> webp_exif(std::span<const uint8_t> webp);

}  // namespace difu::image_detail
