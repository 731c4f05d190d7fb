// core/storage.h — the bytes behind tensors: owned (aligned heap), or borrowed from a memory-mapped
// file / an arena, in which case the Storage keeps its owner alive (or, for an arena, does not own).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace difu {

inline constexpr size_t kTensorAlignment = 64;  // one cache line; what AVX-512 loads like

class Storage {
public:
    // Heap memory, kTensorAlignment-aligned, zero-filled unless `zero` is false. From 1 MB on, an
    // anonymous mapping of its own (always zero-filled), from 8 MB on in transparent huge pages.
    static std::shared_ptr<Storage> allocate(size_t bytes, bool zero = true);
    // Memory owned by someone else (a MappedFile, an Arena); `owner` is kept alive while this lives.
    static std::shared_ptr<Storage> borrow(std::shared_ptr<const void> owner, std::byte* data, size_t bytes,
                                           bool writable);

    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    std::byte* data() const { return data_; }
    size_t size() const { return size_; }
    bool owned() const { return owned_; }
    bool writable() const { return writable_; }  // false for read-only file mappings

private:
    Storage(std::byte* data, size_t size, bool owned, bool writable, std::shared_ptr<const void> owner)
        : data_(data), size_(size), owned_(owned), writable_(writable), owner_(std::move(owner)) {}
    std::byte* data_;
    size_t size_;
    bool owned_;
    bool writable_;
    bool mapped_ = false;  // owned: munmap, not free
    std::shared_ptr<const void> owner_;
};

// A read-only memory mapping of a whole file. Checkpoints are mapped, not read, so that a tensor
// whose dtype already fits is used in place (zero-copy) and untouched tensors cost no memory.
class MappedFile {
public:
    static std::shared_ptr<MappedFile> open(const std::string& path);  // throws Error naming the file
    // The same interface over bytes in memory (fuzzers, tests, data already read); `name` stands in
    // for the path in error messages.
    static std::shared_ptr<MappedFile> from_bytes(std::string name, const void* data, size_t size);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::byte* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Drops the mapping's resident pages from this process (they stay in the page cache and fault back
    // in on the next read): after the weights were converted, the file no longer counts in our RSS.
    void release_pages() const;
    // The same for the pages holding bytes [p, p + n) (a no-op for bytes outside the mapping): a model
    // calls it on each weight once converted, so a load never holds the file and the copies at once.
    void release_pages(const void* p, size_t n) const;

private:
    MappedFile(std::string path, std::byte* data, size_t size, bool mapped)
        : path_(std::move(path)), data_(data), size_(size), mapped_(mapped) {}
    std::string path_;
    std::byte* data_;
    size_t size_;
    bool mapped_;  // true: munmap on destruction; false: heap copy from from_bytes()
};

}  // namespace difu
