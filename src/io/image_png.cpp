// io/image_png.cpp — PNG through libpng. libpng reports errors by longjmp, so every libpng call runs
// inside a small "stage" function whose frame holds nothing with a destructor: the setjmp there
// catches the jump and returns false, and the C++ caller (which owns all memory) throws difu::Error.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>

#include "core/error.h"
#include "io/image_codecs.h"

namespace difu::image_detail {
namespace {

// Where the error callback leaves libpng's message before jumping back to the stage's setjmp.
struct PngError {
    char message[256] = "unknown libpng error";
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp msg) {
    auto* e = static_cast<PngError*>(png_get_error_ptr(png));
    std::snprintf(e->message, sizeof e->message, "%s", msg);
    png_longjmp(png, 1);
}

// Warnings are benign by libpng's own judgement (e.g. a bad CRC on an ancillary chunk, which it drops).
void on_png_warning(png_structp, png_const_charp) {}

// ---- decoding ------------------------------------------------------------------------------------

struct MemReader {
    const uint8_t* data;
    size_t size;
    size_t pos;
};

void read_from_memory(png_structp png, png_bytep out, size_t n) {
    auto* r = static_cast<MemReader*>(png_get_io_ptr(png));
    if (n > r->size - r->pos) png_error(png, "the file ends early (truncated?)");
    std::memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

// libpng allocates a chunk's claimed length before reading it (a 100-byte file can claim 2 GB), so
// the chunk list is checked against the bytes first. Stops at IEND or where the data ends.
void check_chunk_lengths(const std::string& name, std::span<const uint8_t> b) {
    constexpr size_t kSignatureBytes = 8, kChunkOverhead = 12;  // length, type, CRC
    for (size_t pos = kSignatureBytes; b.size() - pos >= 8;) {
        const uint32_t length = (uint32_t{b[pos]} << 24) | (b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3];
        const std::string type = printable({reinterpret_cast<const char*>(b.data() + pos + 4), 4});
        if (uint64_t{length} + kChunkOverhead > b.size() - pos)
            throw Error::at(name, "PNG chunk '{}' at byte {} claims {} bytes but the file has {} after it (truncated?)",
                            type, pos, length, b.size() - pos - 8);
        if (type == "IEND") return;
        pos += length + kChunkOverhead;
    }
}

struct ReadHandle {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~ReadHandle() { png_destroy_read_struct(&png, &info, nullptr); }
};

struct PngLayout {
    png_uint_32 width = 0, height = 0;
    int channels = 0;
    bool too_large = false;  // caller reports it with difu's size message, before any allocation
};

// Stage 1: IHDR, then the transforms that give 8-bit RGB / RGBA whatever the file holds.
bool png_read_layout(png_structp png, png_infop info, Alpha alpha, PngLayout* out) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_info(png, info);
    out->width = png_get_image_width(png, info);
    out->height = png_get_image_height(png, info);
    if (out->width > kMaxImageSide || out->height > kMaxImageSide ||
        int64_t{out->width} * out->height > kMaxImagePixels) {
        out->too_large = true;
        return true;
    }
    const int color = png_get_color_type(png, info);
    const int depth = png_get_bit_depth(png, info);
    if (depth == 16) png_set_strip_16(png);  // keeps the high byte, as Pillow's "RGB;16B" unpacking does
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (alpha == Alpha::Drop) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    out->channels = png_get_channels(png, info);
    return true;
}

// Stage 2: all rows (every pass of an interlaced file) into memory the caller owns.
bool png_read_rows(png_structp png, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_image(png, rows);
    return true;
}

// ---- encoding ------------------------------------------------------------------------------------

struct MemWriter {
    std::vector<uint8_t>* out;
};

void write_to_memory(png_structp png, png_bytep data, size_t n) {
    auto* w = static_cast<MemWriter*>(png_get_io_ptr(png));
    bool failed = false;
    try {
        w->out->insert(w->out->end(), data, data + n);
    } catch (const std::bad_alloc&) {
        failed = true;  // png_error longjmps: never from inside a catch block
    }
    if (failed) png_error(png, "out of memory");
}

void flush_memory(png_structp) {}

struct WriteHandle {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~WriteHandle() { png_destroy_write_struct(&png, &info); }
};

bool png_write_all(png_structp png, png_infop info, const Image* img, png_textp text, int n_text, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    const int color = img->channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB;
    png_set_IHDR(png, info, img->width, img->height, 8, color, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (n_text > 0) png_set_text(png, info, text, n_text);  // written before IDAT, as Pillow does
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, nullptr);
    return true;
}

// A key as libpng and the PNG spec allow it: 1-79 printable Latin-1 characters, no edge spaces.
std::string png_keyword(const std::string& key) {
    std::u32string cps;
    if (!decode_utf8(key, &cps)) throw Error::make("PNG text key is not valid UTF-8");
    if (cps.empty() || cps.size() > 79 || cps.front() == ' ' || cps.back() == ' ')
        throw Error::make("PNG text key '{}' must be 1-79 characters without leading or trailing spaces", key);
    std::string latin1;
    for (char32_t c : cps) {
        if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c > 0xFF)
            throw Error::make("PNG text key '{}' has a character outside printable Latin-1", key);
        latin1 += static_cast<char>(c);
    }
    return latin1;
}

// The chunk's bytes: Latin-1 for tEXt when every character fits (Pillow: value.encode("latin-1")),
// else the UTF-8 itself for iTXt.
struct ChunkText {
    std::string key, text;
    bool itxt = false;
};

ChunkText chunk_text(const std::string& key, const std::string& value) {
    std::u32string cps;
    if (!decode_utf8(value, &cps)) throw Error::make("PNG text '{}' is not valid UTF-8", key);
    ChunkText c{png_keyword(key), "", false};
    for (char32_t cp : cps) {
        if (cp == 0) throw Error::make("PNG text '{}' contains a NUL character", key);
        if (cp > 0xFF) c.itxt = true;
    }
    if (c.itxt) {
        c.text = value;
    } else {
        for (char32_t cp : cps) c.text += static_cast<char>(cp);
    }
    return c;
}

}  // namespace

Image decode_png(const std::string& name, std::span<const uint8_t> bytes, Alpha alpha) {
    check_chunk_lengths(name, bytes);
    PngError err;
    ReadHandle h;
    h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
    if (h.png) h.info = png_create_info_struct(h.png);
    if (!h.png || !h.info) throw Error::at(name, "PNG: cannot initialise libpng (out of memory?)");
    MemReader reader{bytes.data(), bytes.size(), 0};
    png_set_read_fn(h.png, &reader, read_from_memory);

    PngLayout layout;
    if (!png_read_layout(h.png, h.info, alpha, &layout)) throw Error::at(name, "PNG: {}", err.message);
    check_image_size(name, "PNG", layout.width, layout.height);
    if (layout.channels != 3 && layout.channels != 4)
        throw Error::at(name, "PNG: libpng produced {} channels, expected RGB or RGBA", layout.channels);

    Image img;
    img.width = static_cast<int>(layout.width);
    img.height = static_cast<int>(layout.height);
    img.channels = layout.channels;
    img.pixels.resize(static_cast<size_t>(img.height) * img.stride());
    std::vector<png_bytep> rows(img.height);
    for (int y = 0; y < img.height; ++y) rows[y] = img.pixels.data() + y * img.stride();
    if (!png_read_rows(h.png, rows.data())) throw Error::at(name, "PNG: {}", err.message);
    return img;
}

}  // namespace difu::image_detail

namespace difu {

using namespace image_detail;

std::vector<uint8_t> encode_png(const Image& img, const TextChunks& text) {
    check_encodable(img, "PNG");
    std::vector<ChunkText> chunks;
    for (const auto& [k, v] : text) chunks.push_back(chunk_text(k, v));
    std::vector<png_text> entries(chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
        png_text& t = entries[i];
        t.compression = chunks[i].itxt ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
        t.key = chunks[i].key.data();
        t.text = chunks[i].text.data();
        t.text_length = chunks[i].itxt ? 0 : chunks[i].text.size();
        t.itxt_length = chunks[i].itxt ? chunks[i].text.size() : 0;
        t.lang = nullptr;      // iTXt with empty language tag and translated keyword, as Pillow's add_itxt
        t.lang_key = nullptr;
    }

    PngError err;
    WriteHandle h;
    h.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
    if (h.png) h.info = png_create_info_struct(h.png);
    if (!h.png || !h.info) throw Error::make("PNG encoder: cannot initialise libpng (out of memory?)");
    std::vector<uint8_t> out;
    MemWriter writer{&out};
    png_set_write_fn(h.png, &writer, write_to_memory, flush_memory);
    std::vector<png_bytep> rows(img.height);
    for (int y = 0; y < img.height; ++y) rows[y] = const_cast<png_bytep>(img.pixels.data() + y * img.stride());
    if (!png_write_all(h.png, h.info, &img, entries.data(), static_cast<int>(entries.size()), rows.data()))
        throw Error::make("PNG encoder: {}", err.message);
    return out;
}

}  // namespace difu
