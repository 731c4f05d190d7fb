#include "core/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace difu {

std::shared_ptr<Storage> Storage::allocate(size_t bytes, bool zero) {
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
    if (owned_) std::free(data_);
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

MappedFile::~MappedFile() {
    if (mapped_ && data_) ::munmap(data_, size_);
    if (!mapped_) std::free(data_);
}

}  // namespace difu
