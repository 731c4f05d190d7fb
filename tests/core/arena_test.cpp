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
