// core/seed_sequence.h — numpy's SeedSequence (numpy/random/bit_generator.pyx, after O'Neill's seed_seq):
// mixes integer entropy and a spawn key into a pool of 32-bit words, then hashes the pool into seeds.
// torchsde's Brownian tree (the SDE samplers' noise) names every node's random draws this way, so the
// same mixing reproduces webui's and ComfyUI's DPM++ SDE noise.
//   entropy words: each integer split into 32-bit words, lowest first (0 -> one word 0); with a spawn
//   key the entropy is zero-padded to the pool size first (numpy >= 1.19), then the key's words follow.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace difu {

class SeedSequence {
public:
    static constexpr uint32_t kDefaultPoolSize = 4;
    // `entropy` and `spawn_key` as numpy takes them: sequences of non-negative integers.
    SeedSequence(const std::vector<uint64_t>& entropy, const std::vector<uint64_t>& spawn_key = {},
                 uint32_t pool_size = kDefaultPoolSize);

    std::vector<uint32_t> generate_state(size_t n_words) const;  // dtype uint32
    const std::vector<uint32_t>& pool() const { return pool_; }

private:
    std::vector<uint32_t> pool_;
};

}  // namespace difu
