// io/zip_reader.h — the central directory of a ZIP archive held in a mapped file, as torch.save writes it:
// STORED (uncompressed) entries, ZIP64 records once the archive passes 4 GB. Entry data is handed out as
// spans into the mapping (zero copy). Nothing read from the file is trusted: every count, offset and
// length is checked against the file size before use, with overflow-safe arithmetic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/storage.h"

namespace difu {

struct ZipEntry {
    std::string name;
    uint16_t method = 0;             // 0 = stored, 8 = deflate, ...
    uint16_t flags = 0;              // general-purpose bit flags (bit 0: encrypted)
    uint64_t compressed_size = 0;
    uint64_t size = 0;               // uncompressed
    uint64_t local_header_offset = 0;
};

class ZipArchive {
public:
    // Reads the end-of-central-directory record (ZIP64 when present) and the central directory.
    // Throws Error naming the file when the archive is truncated or inconsistent. `file` must outlive
    // the archive (spans point into it).
    static ZipArchive read(const MappedFile& file);

    const std::vector<ZipEntry>& entries() const { return entries_; }
    const ZipEntry* find(std::string_view name) const;  // nullptr when absent
    // The bytes of a stored entry inside the mapping; checks its local header. Compressed or encrypted
    // entries are refused with an Error: torch.save never writes them.
    std::span<const std::byte> data(const ZipEntry& entry) const;

private:
    ZipArchive(const MappedFile& file) : file_(&file) {}
    void read_central_directory(uint64_t offset, uint64_t size, uint64_t count);
    const MappedFile* file_;
    std::vector<ZipEntry> entries_;
    std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace difu
