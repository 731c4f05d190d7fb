// io/image_exif.cpp — the one EXIF field difu cares about: UserComment (tag 0x9286 in the Exif IFD),
// where webui keeps a JPEG's or WebP's infotext (images.py: piexif.dump({"Exif": {UserComment:
// piexif.helper.UserComment.dump(geninfo, encoding="unicode")}})). An EXIF block is a TIFF file:
// "MM\0*" or "II*\0", u32 offset of IFD0; an IFD is u16 count, count × 12-byte entries
// (tag u16, type u16, count u32, value-or-offset u32), u32 offset of the next IFD.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/image_codecs.h"

namespace difu::image_detail {
namespace {

constexpr uint16_t kTagExifIfd = 0x8769;
constexpr uint16_t kTagUserComment = 0x9286;
constexpr uint16_t kTypeLong = 4;
constexpr uint16_t kTypeUndefined = 7;
constexpr size_t kIfdEntryBytes = 12;
constexpr char kUnicodePrefix[8] = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};  // piexif.helper.UserComment
constexpr char kAsciiPrefix[8] = {'A', 'S', 'C', 'I', 'I', 0, 0, 0};

void put16(std::vector<uint8_t>& v, uint16_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
    put16(v, static_cast<uint16_t>(x >> 16));
    put16(v, static_cast<uint16_t>(x));
}

// A TIFF block read with its own byte order; every read is bounds-checked (0 past the end).
struct Tiff {
    std::span<const uint8_t> b;
    bool big_endian;
    bool has(size_t at, size_t n) const { return at <= b.size() && n <= b.size() - at; }
    uint32_t u16(size_t at) const {
        if (!has(at, 2)) return 0;
        return big_endian ? (b[at] << 8) | b[at + 1] : (b[at + 1] << 8) | b[at];
    }
    uint32_t u32(size_t at) const {
        return big_endian ? (u16(at) << 16) | u16(at + 2) : (u16(at + 2) << 16) | u16(at);
    }
    // Offset of the entry with `tag` in the IFD at `ifd`, or 0.
    size_t find(size_t ifd, uint16_t tag) const {
        const uint32_t count = u16(ifd);
        if (!has(ifd + 2, count * kIfdEntryBytes)) return 0;
        for (uint32_t i = 0; i < count; ++i)
            if (u16(ifd + 2 + i * kIfdEntryBytes) == tag) return ifd + 2 + i * kIfdEntryBytes;
        return 0;
    }
};

// bytes.decode("utf8", errors="ignore"): webui's fallback for a comment piexif cannot decode.
std::string utf8_ignoring_errors(std::span<const uint8_t> b) {
    std::string out;
    std::u32string one;
    for (size_t i = 0; i < b.size();) {
        size_t len = b[i] < 0x80 ? 1 : (b[i] >> 5) == 0x6 ? 2 : (b[i] >> 4) == 0xE ? 3 : (b[i] >> 3) == 0x1E ? 4 : 1;
        len = std::min(len, b.size() - i);
        std::string_view s(reinterpret_cast<const char*>(b.data() + i), len);
        if (decode_utf8(s, &one) && one.size() == 1) {
            out += s;
            i += len;
        } else {
            ++i;
        }
    }
    return out;
}

// UTF-16BE -> UTF-8; false on an unpaired surrogate or an odd byte count (Python raises there).
bool utf16be_to_utf8(std::span<const uint8_t> b, std::string* out) {
    if (b.size() % 2) return false;
    for (size_t i = 0; i < b.size(); i += 2) {
        char32_t c = (b[i] << 8) | b[i + 1];
        if (c >= 0xDC00 && c <= 0xDFFF) return false;
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (i + 3 >= b.size()) return false;
            const char32_t lo = (b[i + 2] << 8) | b[i + 3];
            if (lo < 0xDC00 || lo > 0xDFFF) return false;
            c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        }
        append_utf8(*out, c);
    }
    return true;
}

}  // namespace

std::vector<uint8_t> exif_with_user_comment(const std::string& utf8_text) {
    std::u32string cps;
    if (!decode_utf8(utf8_text, &cps)) throw Error::make("EXIF UserComment is not valid UTF-8");
    std::vector<uint8_t> comment(kUnicodePrefix, kUnicodePrefix + 8);
    for (char32_t c : cps) {
        if (c < 0x10000) {
            put16(comment, static_cast<uint16_t>(c));
        } else {  // surrogate pair
            put16(comment, static_cast<uint16_t>(0xD800 + ((c - 0x10000) >> 10)));
            put16(comment, static_cast<uint16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
        }
    }
    // Layout (offsets from the TIFF start): 0 header, 8 IFD0 {ExifIFD pointer}, 26 Exif IFD {UserComment}, 44 comment.
    constexpr uint32_t kIfd0 = 8, kExifIfd = kIfd0 + 2 + kIfdEntryBytes + 4, kData = kExifIfd + 2 + kIfdEntryBytes + 4;
    std::vector<uint8_t> t = {'M', 'M', 0, 42};
    put32(t, kIfd0);
    put16(t, 1);
    put16(t, kTagExifIfd), put16(t, kTypeLong), put32(t, 1), put32(t, kExifIfd);
    put32(t, 0);  // no IFD1
    put16(t, 1);
    put16(t, kTagUserComment), put16(t, kTypeUndefined), put32(t, static_cast<uint32_t>(comment.size())), put32(t, kData);
    put32(t, 0);
    t.insert(t.end(), comment.begin(), comment.end());  // always > 4 bytes, so never stored inline
    return t;
}

std::string exif_user_comment(std::span<const uint8_t> tiff) {
    if (tiff.size() < 8) return "";
    const bool be = tiff[0] == 'M' && tiff[1] == 'M';
    if (!be && !(tiff[0] == 'I' && tiff[1] == 'I')) return "";
    const Tiff t{tiff, be};
    if (t.u16(2) != 42) return "";
    const size_t exif_entry = t.find(t.u32(4), kTagExifIfd);
    if (!exif_entry) return "";
    const size_t entry = t.find(t.u32(exif_entry + 8), kTagUserComment);
    if (!entry) return "";
    const uint32_t count = t.u32(entry + 4);
    const size_t at = count <= 4 ? entry + 8 : t.u32(entry + 8);
    if (!t.has(at, count)) return "";
    const auto c = tiff.subspan(at, count);
    // piexif.helper.UserComment.load; on failure webui decodes the whole field as UTF-8, ignoring errors.
    const auto body = c.size() >= 8 ? c.subspan(8) : c.subspan(0, 0);
    std::string out;
    if (c.size() >= 8 && std::memcmp(c.data(), kUnicodePrefix, 8) == 0 && utf16be_to_utf8(body, &out)) return out;
    if (c.size() >= 8 && std::memcmp(c.data(), kAsciiPrefix, 8) == 0) return utf8_ignoring_errors(body);
    return utf8_ignoring_errors(c);
}

std::span<const uint8_t> jpeg_exif(std::span<const uint8_t> j) {
    static constexpr char kExifHeader[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (size_t pos = 2; pos + 4 <= j.size();) {  // after SOI: FF marker [length u16 BE, payload]
        if (j[pos] != 0xFF) return {};
        const uint8_t marker = j[pos + 1];
        if (marker == 0xFF) {  // fill byte
            ++pos;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return {};  // start of scan / end of image: no metadata after
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // standalone markers
            pos += 2;
            continue;
        }
        const size_t len = (j[pos + 2] << 8) | j[pos + 3];
        if (len < 2 || pos + 2 + len > j.size()) return {};
        if (marker == 0xE1 && len >= 2 + 6 && std::memcmp(j.data() + pos + 4, kExifHeader, 6) == 0)
            return j.subspan(pos + 4 + 6, len - 2 - 6);
        pos += 2 + len;
    }
    return {};
}

std::span<const uint8_t> webp_exif(std::span<const uint8_t> w) {
    for (size_t pos = 12; pos + 8 <= w.size();) {  // after "RIFF" size "WEBP": fourcc, u32 LE size, payload, pad
        const size_t len = w[pos + 4] | (w[pos + 5] << 8) | (w[pos + 6] << 16) | (size_t{w[pos + 7]} << 24);
        if (len > w.size() - pos - 8) return {};
        if (std::memcmp(w.data() + pos, "EXIF", 4) == 0) {
            auto exif = w.subspan(pos + 8, len);
            if (exif.size() >= 6 && std::memcmp(exif.data(), "Exif\0\0", 6) == 0) exif = exif.subspan(6);
            return exif;
        }
        pos += 8 + len + (len & 1);
    }
    return {};
}

}  // namespace difu::image_detail
