#include "core/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace difu {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kMappedAllocation = size_t{1} << 20;  // from here on: a mapping of its own...
constexpr size_t kHugeAllocation = size_t{8} << 20;    // ...and from here on in 2 MB pages

size_t mapped_length(size_t bytes) {
    const size_t unit = bytes >= kHugeAllocation ? kHugePage : static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    return (bytes + unit - 1) / unit * unit;
}

// Big buffers (weights, activations) get mappings of their own: freeing one gives the memory back
// to the system at once (glibc keeps freed heap chunks, so a released model would stay in our RSS),
// and from 8 MB on they ask for 2 MB pages: a process that touched 4 GB of fresh memory spent a
// fifth of its time in 4 KB page faults.
void* map_buffer(size_t bytes) {
    const size_t len = mapped_length(bytes);
    if (bytes < kHugeAllocation) {
        void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? nullptr : p;
    }
    void* p = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    // Trim to a 2 MB-aligned start so the kernel can back the range with whole huge pages.
    const uintptr_t start = reinterpret_cast<uintptr_t>(p), aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > start) ::munmap(p, aligned - start);
    const size_t tail = kHugePage - (aligned - start);
    if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + len), tail);
    ::madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);  // a hint; 4 KB pages if refused
    return reinterpret_cast<void*>(aligned);
}
}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t bytes, bool zero) {
    if (bytes >= kMappedAllocation) {
        void* p = map_buffer(bytes);  // fresh anonymous pages read as zero: nothing to clear
        if (!p) throw Error::make("out of memory allocating {} bytes", bytes);
        auto s = std::shared_ptr<Storage>(new Storage(static_cast<std::byte*>(p), bytes, true, true, nullptr));
        s->mapped_ = true;
        return s;
    }
    const size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
    void* p = rounded ? std::aligned_alloc(kTensorAlignment, rounded) : nullptr;
    if (rounded && !p) throw Error::make("out of memory allocating {} bytes", bytes);
    if (p && zero) std::memset(p, 0, rounded);
    return std::shared_ptr<Storage>(new Storage(static_cast<std::byte*>(p), bytes, true, true, nullptr));
}

std::shared_ptr<Storage> Storage::borrow(std::shared_ptr<const void> owner, std::byte* data, size_t bytes,
                                         bool writable) {
    return std::shared_ptr<Storage>(new Storage(data, bytes, false, writable, std::move(owner)));
}

Storage::~Storage() {
    if (owned_ && mapped_) ::munmap(data_, mapped_length(size_));
    else if (owned_) std::free(data_);
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error::at(path, "cannot open: {}", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        throw Error::at(path, "cannot stat: {}", std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error::at(path, "not a regular file");
    }
    const size_t size = static_cast<size_t>(st.st_size);
    std::byte* data = nullptr;
    if (size > 0) {
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            throw Error::at(path, "cannot mmap {} bytes: {}", size, std::strerror(e));
        }
        data = static_cast<std::byte*>(p);
    }
    ::close(fd);  // the mapping stays valid
    return std::shared_ptr<MappedFile>(new MappedFile(path, data, size, true));
}

std::shared_ptr<MappedFile> MappedFile::from_bytes(std::string name, const void* data, size_t size) {
    auto* copy = static_cast<std::byte*>(std::malloc(size ? size : 1));
    if (!copy) throw Error::at(name, "out of memory copying {} bytes", size);
    if (size) std::memcpy(copy, data, size);
    return std::shared_ptr<MappedFile>(new MappedFile(std::move(name), copy, size, false));
}

void MappedFile::release_pages() const {
    if (mapped_ && data_) ::madvise(data_, size_, MADV_DONTNEED);  // read-only private mapping: nothing is lost
}

void MappedFile::release_pages(const void* p, size_t n) const {
    if (!mapped_ || !data_ || n == 0) return;
    const uintptr_t begin = reinterpret_cast<uintptr_t>(data_), end = begin + size_;
    uintptr_t a = reinterpret_cast<uintptr_t>(p), b = a + n;
    if (a < begin || b > end) return;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    a = std::max(begin, a / page * page);  // whole pages: a neighbour's bytes fault back in if read again
    b = std::min(end, (b + page - 1) / page * page);
    if (a % page == 0) ::madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
    if (mapped_ && data_) ::munmap(data_, size_);
    if (!mapped_) std::free(data_);
}

}  // namespace difu
