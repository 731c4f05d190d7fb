// io/zip_reader.cpp — see zip_reader.h. Record layouts follow PKWARE's APPNOTE.TXT (sections 4.3.7
// local file header, 4.3.12 central directory header, 4.3.14-16 ZIP64 end records, 4.5.3 ZIP64 extra).
#include "io/zip_reader.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace difu {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;     // "PK\3\4"
constexpr uint32_t kCentralHeaderSig = 0x02014b50;   // "PK\1\2"
constexpr uint32_t kEndSig = 0x06054b50;             // "PK\5\6"
constexpr uint32_t kZip64EndSig = 0x06064b50;        // "PK\6\6"
constexpr uint32_t kZip64LocatorSig = 0x07064b50;    // "PK\6\7"
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kMaxCommentSize = 0xffff;         // the EOCD comment length is a u16
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
// A field holding its all-ones value means "the real value is in the ZIP64 record".
constexpr uint16_t kZip64Marker16 = 0xffff;
constexpr uint32_t kZip64Marker32 = 0xffffffff;

// Little-endian reads at an absolute offset, checked against the file size.
class Reader {
public:
    explicit Reader(const MappedFile& f) : f_(f) {}
    bool fits(uint64_t offset, uint64_t length) const {
        return offset <= f_.size() && length <= f_.size() - offset;
    }
    void need(uint64_t offset, uint64_t length, std::string_view what) const {
        if (!fits(offset, length))
            throw Error::at(f_.path(), "zip: {} at byte {} ({} bytes) lies past the end of the {}-byte file "
                            "(truncated download?)", what, offset, length, f_.size());
    }
    uint64_t le(uint64_t offset, int bytes) const {
        uint64_t v = 0;
        for (int i = bytes; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(f_.data()[offset + static_cast<uint64_t>(i)]);
        return v;
    }
    uint16_t u16(uint64_t o) const { return static_cast<uint16_t>(le(o, 2)); }
    uint32_t u32(uint64_t o) const { return static_cast<uint32_t>(le(o, 4)); }
    uint64_t u64(uint64_t o) const { return le(o, 8); }
    std::string str(uint64_t o, uint64_t n) const { return {reinterpret_cast<const char*>(f_.data() + o), n}; }
    const MappedFile& file() const { return f_; }

private:
    const MappedFile& f_;
};

struct EndRecord {
    uint64_t count = 0;
    uint64_t cd_size = 0;
    uint64_t cd_offset = 0;
};

// The EOCD is the last "PK\5\6" whose record, comment included, ends exactly at the end of the file.
// Scanning from the end and accepting only an exact fit keeps a signature inside the comment (or
// inside stored data) from being taken for the record.
uint64_t find_end_record(const Reader& r) {
    const uint64_t size = r.file().size();
    if (size < kEndSize) throw Error::at(r.file().path(), "zip: {}-byte file is too small to be a zip archive", size);
    const uint64_t lowest = size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
    for (uint64_t pos = size - kEndSize + 1; pos-- > lowest;) {
        if (r.u32(pos) == kEndSig && pos + kEndSize + r.u16(pos + 20) == size) return pos;
    }
    throw Error::at(r.file().path(), "zip: no end-of-central-directory record (truncated download, or not a zip)");
}

// ZIP64: the locator sits right before the EOCD and points at the ZIP64 end record.
void read_zip64_end(const Reader& r, uint64_t end_pos, EndRecord& end) {
    const std::string& path = r.file().path();
    if (end_pos < kZip64LocatorSize || r.u32(end_pos - kZip64LocatorSize) != kZip64LocatorSig)
        throw Error::at(path, "zip: the end record defers to ZIP64 but there is no ZIP64 locator");
    const uint64_t z64 = r.u64(end_pos - kZip64LocatorSize + 8);
    r.need(z64, kZip64EndSize, "ZIP64 end record");
    if (z64 + kZip64EndSize > end_pos - kZip64LocatorSize || r.u32(z64) != kZip64EndSig)
        throw Error::at(path, "zip: the ZIP64 locator points at byte {}, where there is no ZIP64 end record", z64);
    end.count = r.u64(z64 + 32);
    end.cd_size = r.u64(z64 + 40);
    end.cd_offset = r.u64(z64 + 48);
}

EndRecord read_end(const Reader& r) {
    const uint64_t pos = find_end_record(r);
    EndRecord end{r.u16(pos + 10), r.u32(pos + 12), r.u32(pos + 16)};
    const uint16_t disk = r.u16(pos + 4), cd_disk = r.u16(pos + 6);
    if ((disk != 0 && disk != kZip64Marker16) || (cd_disk != 0 && cd_disk != kZip64Marker16))
        throw Error::at(r.file().path(), "zip: multi-volume archives are not supported");
    if (end.count == kZip64Marker16 || end.cd_size == kZip64Marker32 || end.cd_offset == kZip64Marker32)
        read_zip64_end(r, pos, end);
    r.need(end.cd_offset, end.cd_size, "central directory");
    // Never trust the count: each entry takes at least kCentralHeaderSize bytes of the directory.
    if (end.count > end.cd_size / kCentralHeaderSize)
        throw Error::at(r.file().path(), "zip: the end record claims {} entries, but a {}-byte central directory "
                        "holds at most {}", end.count, end.cd_size, end.cd_size / kCentralHeaderSize);
    return end;
}

// Fields at their all-ones marker are replaced, in this order, by the u64s of the ZIP64 extra field.
void apply_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, ZipEntry& e, bool offset_marked) {
    bool size_marked = e.size == kZip64Marker32, comp_marked = e.compressed_size == kZip64Marker32;
    for (uint64_t p = extra; p + 4 <= extra + extra_len;) {
        const uint16_t id = r.u16(p), len = r.u16(p + 2);
        const uint64_t body = p + 4, body_end = body + len;
        if (body_end > extra + extra_len) break;  // a malformed tail: the markers check below reports it
        if (id == kZip64ExtraId) {
            uint64_t q = body;
            auto take = [&](uint64_t& field, bool& marked) {
                if (!marked || q + 8 > body_end) return;
                field = r.u64(q);
                q += 8;
                marked = false;
            };
            take(e.size, size_marked);
            take(e.compressed_size, comp_marked);
            take(e.local_header_offset, offset_marked);
        }
        p = body_end;
    }
    if (size_marked || comp_marked || offset_marked)
        throw Error::at(r.file().path(), "zip: entry '{}' defers its sizes to a ZIP64 extra field it lacks", e.name);
}

}  // namespace

ZipArchive ZipArchive::read(const MappedFile& file) {
    ZipArchive zip(file);
    const EndRecord end = read_end(Reader(file));
    zip.read_central_directory(end.cd_offset, end.cd_size, end.count);
    return zip;
}

void ZipArchive::read_central_directory(uint64_t offset, uint64_t size, uint64_t count) {
    const Reader r(*file_);
    const uint64_t cd_end = offset + size;  // in the file: read_end checked it
    entries_.reserve(count);
    uint64_t p = offset;
    for (uint64_t i = 0; i < count; ++i) {
        if (cd_end - p < kCentralHeaderSize || r.u32(p) != kCentralHeaderSig)
            throw Error::at(file_->path(), "zip: central directory entry {} of {} at byte {} is damaged", i, count, p);
        const uint64_t name_len = r.u16(p + 28), extra_len = r.u16(p + 30), comment_len = r.u16(p + 32);
        const uint64_t record = kCentralHeaderSize + name_len + extra_len + comment_len;
        if (cd_end - p < record)
            throw Error::at(file_->path(), "zip: central directory entry {} runs past the directory's end", i);
        ZipEntry e;
        e.flags = r.u16(p + 8);
        e.method = r.u16(p + 10);
        e.compressed_size = r.u32(p + 20);
        e.size = r.u32(p + 24);
        e.local_header_offset = r.u32(p + 42);
        e.name = r.str(p + kCentralHeaderSize, name_len);
        apply_zip64_extra(r, p + kCentralHeaderSize + name_len, extra_len, e,
                          e.local_header_offset == kZip64Marker32);
        // Two entries of one name would let two readers see two different archives: refuse.
        if (!by_name_.emplace(e.name, entries_.size()).second)
            throw Error::at(file_->path(), "zip: two entries are named '{}'", e.name);
        entries_.push_back(std::move(e));
        p += record;
    }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> ZipArchive::data(const ZipEntry& e) const {
    const std::string& path = file_->path();
    if (e.flags & kFlagEncrypted) throw Error::at(path, "zip: entry '{}' is encrypted", e.name);
    if (e.method != kMethodStored)
        throw Error::at(path, "zip: entry '{}' is {}; torch.save stores entries uncompressed, so this archive was "
                        "re-packed by another tool (re-save it with torch.save, or unzip and re-zip with -0)", e.name,
                        e.method == kMethodDeflate ? "deflate-compressed" : "compressed (method " +
                        std::to_string(e.method) + ")");
    if (e.compressed_size != e.size)
        throw Error::at(path, "zip: stored entry '{}' has compressed size {} but size {}", e.name, e.compressed_size,
                        e.size);
    const Reader r(*file_);
    r.need(e.local_header_offset, kLocalHeaderSize, "local header of '" + e.name + "'");
    if (r.u32(e.local_header_offset) != kLocalHeaderSig)
        throw Error::at(path, "zip: entry '{}' has no local header at byte {}", e.name, e.local_header_offset);
    // The local header's own name and extra lengths place the data (torch pads the extra field so
    // that tensor data starts 64-byte aligned; it need not match the central directory's).
    const uint64_t data_offset = e.local_header_offset + kLocalHeaderSize + r.u16(e.local_header_offset + 26) +
                                 r.u16(e.local_header_offset + 28);
    r.need(data_offset, e.size, "data of '" + e.name + "'");
    return {file_->data() + data_offset, static_cast<size_t>(e.size)};
}

}  // namespace difu
