// tests/core/storage_test.cpp — the bytes behind tensors: heap and mapped allocations, and dropping a
// mapped file's pages without losing its contents.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <numeric>
#include <vector>

#include "core/storage.h"

using namespace difu;

TEST(Storage, SmallAndMappedAllocationsAreAlignedZeroedAndWritable) {
    // 4 KB from the heap, 2 MB in a mapping of its own, 24 MB in (transparent) huge pages.
    for (size_t bytes : {size_t{4096}, size_t{2} << 20, size_t{24} << 20}) {
        auto s = Storage::allocate(bytes);
        ASSERT_EQ(s->size(), bytes);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(s->data()) % kTensorAlignment, 0u) << bytes;
        EXPECT_EQ(s->data()[0], std::byte{0});
        EXPECT_EQ(s->data()[bytes - 1], std::byte{0});
        s->data()[bytes - 1] = std::byte{7};  // the whole range is writable
        EXPECT_EQ(s->data()[bytes - 1], std::byte{7});
    }
}

TEST(Storage, ReleasingFilePagesKeepsTheContents) {
    const std::string path = ::testing::TempDir() + "difu_release_pages.bin";
    std::vector<uint32_t> words(3 << 18);  // 3 MB: several pages, a partial one at each end below
    std::iota(words.begin(), words.end(), 0u);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(words.data()), words.size() * 4);
    auto file = MappedFile::open(path);
    const auto* mapped = reinterpret_cast<const uint32_t*>(file->data());
    ASSERT_EQ(mapped[12345], 12345u);
    file->release_pages(file->data() + 1000, 2 << 20);  // not page-aligned: whole pages around it
    const int outside = 0;
    file->release_pages(&outside, sizeof outside);       // not in the mapping: ignored
    file->release_pages();
    for (size_t i = 0; i < words.size(); i += 997) ASSERT_EQ(mapped[i], i) << i;  // read back from the page cache
    std::remove(path.c_str());
}
