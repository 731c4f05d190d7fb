// tests/core/arena_test.cpp — the scratch arena: marks, rewinds, and keep() moving a block's output.
#include <gtest/gtest.h>

#include "core/arena.h"

using namespace difu;

TEST(Arena, RewindReusesMemoryAndKeepMovesOutputDown) {
    Arena a(1 << 20);
    Tensor first = a.alloc({16});
    const Arena::Mark m = a.mark();
    Tensor tmp = a.alloc({1000});
    Tensor out = a.alloc({3});
    for (int i = 0; i < 3; ++i) out.mutable_data<float>()[i] = float(i + 1);
    Tensor kept = a.keep(m, out);
    EXPECT_EQ(kept.raw(), tmp.raw());  // moved to where the temporaries started
    EXPECT_EQ(kept.f32()[2], 3.0f);
    EXPECT_EQ(a.used(), m.used + 64);  // one aligned slot
    a.rewind(m);
    EXPECT_EQ(a.alloc({4}).raw(), tmp.raw());
}

TEST(Arena, KeepAcrossBlocksCopiesAndResetMerges) {
    Arena a(256);  // tiny blocks force a second block
    const Arena::Mark m = a.mark();
    Tensor big = a.alloc({100});  // 400 bytes: its own block
    big.mutable_data<float>()[99] = 7.0f;
    Tensor kept = a.keep(m, big);
    EXPECT_EQ(kept.f32()[99], 7.0f);
    a.reset();
    EXPECT_EQ(a.used(), 0u);
    EXPECT_GE(a.capacity(), 400u);
}

TEST(Arena, BlocksLetGoByRewindAreReusedNotReallocated) {
    // A forward pass overflows its first block on every big layer and rewinds after it; the overflow
    // block must come back from the spares (a fresh one costs page faults on every layer).
    Arena a(1 << 20);
    a.alloc({16});
    const Arena::Mark m = a.mark();
    const void* first_big = nullptr;
    for (int pass = 0; pass < 5; ++pass) {
        Tensor big = a.alloc({1 << 20});  // 4 MB: past the 1 MB block
        if (pass == 0) first_big = big.raw();
        EXPECT_EQ(big.raw(), first_big) << "pass " << pass;
        a.alloc({1 << 19});  // a second overflow block
        a.rewind(m);
    }
    EXPECT_EQ(a.capacity(), (1u << 20) + (4u << 20) + (2u << 20));  // the 1 MB block and the two spares
    a.reset();  // one block that holds the high water mark
    EXPECT_EQ(a.capacity(), (1u << 20) + (4u << 20) + (2u << 20));
    const Tensor whole = a.alloc({(7 << 20) / 4 - 64});
    EXPECT_EQ(a.capacity(), (7u << 20));
}
