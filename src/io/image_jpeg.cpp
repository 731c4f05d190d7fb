// io/image_jpeg.cpp — JPEG through libjpeg(-turbo). libjpeg's default error_exit calls exit(); ours
// longjmps back into a small "stage" function (whose frame holds nothing with a destructor) that
// returns false, and the C++ caller, which owns all memory, throws difu::Error.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "core/error.h"
#include "io/image_codecs.h"

namespace difu::image_detail {
namespace {

// A progressive JPEG may hold any number of scans; each re-reads the whole coefficient buffer, so a
// hostile file with thousands of tiny scans takes minutes. Real encoders write about 10.
constexpr int kMaxProgressiveScans = 500;
// libjpeg's working memory (a progressive 64 Mpixel picture needs ~400 MiB of coefficients).
constexpr long kMaxDecoderMemory = 1024L << 20;
// A JPEG marker segment's length field is 16 bits and counts itself.
constexpr size_t kMaxMarkerPayload = 65533;

struct JpegError {
    jpeg_error_mgr mgr;  // first member: libjpeg hands us &mgr as cinfo->err
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr c) {
    auto* e = reinterpret_cast<JpegError*>(c->err);
    (*c->err->format_message)(c, e->message);
    std::longjmp(e->jump, 1);
}

// Warnings (level -1) are recoverable by libjpeg's judgement, except running out of data: libjpeg
// then pads the picture with gray, where Pillow says "image file is truncated". That one is an error.
void on_jpeg_message(j_common_ptr c, int level) {
    if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(c);
}

void on_jpeg_output(j_common_ptr) {}  // never print to stderr

void on_jpeg_progress(j_common_ptr c) {
    if (!c->is_decompressor) return;
    auto* d = reinterpret_cast<j_decompress_ptr>(c);
    if (d->input_scan_number > kMaxProgressiveScans) {
        auto* e = reinterpret_cast<JpegError*>(c->err);
        std::snprintf(e->message, sizeof e->message, "more than %d progressive scans (hostile file?)",
                      kMaxProgressiveScans);
        std::longjmp(e->jump, 1);
    }
}

void init_error(JpegError* e) {
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = on_jpeg_error;
    e->mgr.emit_message = on_jpeg_message;
    e->mgr.output_message = on_jpeg_output;
    std::snprintf(e->message, sizeof e->message, "unknown libjpeg error");
}

struct Decompressor {
    jpeg_decompress_struct cinfo{};
    jpeg_progress_mgr progress{};
    ~Decompressor() { jpeg_destroy_decompress(&cinfo); }  // a no-op when create never ran
};

struct JpegLayout {
    JDIMENSION width = 0, height = 0;
    J_COLOR_SPACE color = JCS_UNKNOWN;
};

bool jpeg_read_layout(Decompressor* d, JpegError* e, std::span<const uint8_t> bytes, JpegLayout* out) {
    if (setjmp(e->jump)) return false;
    d->cinfo.err = &e->mgr;
    jpeg_create_decompress(&d->cinfo);
    d->cinfo.mem->max_memory_to_use = kMaxDecoderMemory;
    d->progress.progress_monitor = on_jpeg_progress;
    d->cinfo.progress = &d->progress;
    jpeg_mem_src(&d->cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&d->cinfo, TRUE);
    out->width = d->cinfo.image_width;
    out->height = d->cinfo.image_height;
    out->color = d->cinfo.jpeg_color_space;
    return true;
}

bool jpeg_read_rows(Decompressor* d, JpegError* e, uint8_t* pixels, size_t stride) {
    if (setjmp(e->jump)) return false;
    d->cinfo.out_color_space = JCS_RGB;  // libjpeg-turbo expands grayscale to RGB itself
    jpeg_start_decompress(&d->cinfo);
    if (d->cinfo.output_components != 3) {
        std::snprintf(e->message, sizeof e->message, "decoder produced %d components", d->cinfo.output_components);
        return false;
    }
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
        JSAMPROW row = pixels + d->cinfo.output_scanline * stride;
        jpeg_read_scanlines(&d->cinfo, &row, 1);
    }
    return true;  // not jpeg_finish_decompress: every row is in, whatever follows the last scan
}

struct Compressor {
    jpeg_compress_struct cinfo{};
    unsigned char* buffer = nullptr;  // jpeg_mem_dest's malloc'ed output
    unsigned long size = 0;
    ~Compressor() {
        jpeg_destroy_compress(&cinfo);
        std::free(buffer);
    }
};

bool jpeg_write_all(Compressor* c, JpegError* e, const Image* img, int quality, std::span<const uint8_t> app1) {
    if (setjmp(e->jump)) return false;
    c->cinfo.err = &e->mgr;
    jpeg_create_compress(&c->cinfo);
    jpeg_mem_dest(&c->cinfo, &c->buffer, &c->size);
    c->cinfo.image_width = img->width;
    c->cinfo.image_height = img->height;
    c->cinfo.input_components = img->channels;
    c->cinfo.in_color_space = img->channels == 4 ? JCS_EXT_RGBA : JCS_RGB;  // RGBA: alpha ignored
    jpeg_set_defaults(&c->cinfo);  // 4:2:0 chroma, baseline Huffman: what Pillow writes by default
    jpeg_set_quality(&c->cinfo, quality, TRUE);
    jpeg_start_compress(&c->cinfo, TRUE);
    if (!app1.empty()) jpeg_write_marker(&c->cinfo, JPEG_APP0 + 1, app1.data(), static_cast<unsigned>(app1.size()));
    while (c->cinfo.next_scanline < c->cinfo.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(img->pixels.data() + c->cinfo.next_scanline * img->stride());
        jpeg_write_scanlines(&c->cinfo, &row, 1);
    }
    jpeg_finish_compress(&c->cinfo);
    return true;
}

}  // namespace

Image decode_jpeg(const std::string& name, std::span<const uint8_t> bytes, Alpha) {
    JpegError err;
    init_error(&err);
    Decompressor d;
    JpegLayout layout;
    if (!jpeg_read_layout(&d, &err, bytes, &layout)) throw Error::at(name, "JPEG: {}", err.message);
    if (layout.color == JCS_CMYK || layout.color == JCS_YCCK)
        throw Error::at(name, "JPEG is CMYK (a print file); difu reads RGB and grayscale JPEGs only, convert it to RGB");
    check_image_size(name, "JPEG", layout.width, layout.height);

    Image img;
    img.width = static_cast<int>(layout.width);
    img.height = static_cast<int>(layout.height);
    img.channels = 3;
    img.pixels.resize(static_cast<size_t>(img.height) * img.stride());
    if (!jpeg_read_rows(&d, &err, img.pixels.data(), img.stride())) throw Error::at(name, "JPEG: {}", err.message);
    return img;
}

}  // namespace difu::image_detail

namespace difu {

using namespace image_detail;

std::vector<uint8_t> encode_jpeg(const Image& img, int quality, const std::string& comment) {
    check_encodable(img, "JPEG");
    if (quality < 1 || quality > 100) throw Error::make("JPEG encoder: quality {} is outside 1..100", quality);
    std::vector<uint8_t> app1;
    if (!comment.empty()) {
        static constexpr char kExifHeader[6] = {'E', 'x', 'i', 'f', 0, 0};
        const std::vector<uint8_t> tiff = exif_with_user_comment(comment);
        app1.assign(kExifHeader, kExifHeader + 6);
        app1.insert(app1.end(), tiff.begin(), tiff.end());
        if (app1.size() > kMaxMarkerPayload)
            throw Error::make("JPEG encoder: the comment needs {} bytes of EXIF but a JPEG APP1 segment holds {}",
                              app1.size(), kMaxMarkerPayload);
    }
    JpegError err;
    init_error(&err);
    Compressor c;
    if (!jpeg_write_all(&c, &err, &img, quality, app1)) throw Error::make("JPEG encoder: {}", err.message);
    return std::vector<uint8_t>(c.buffer, c.buffer + c.size);
}

}  // namespace difu
