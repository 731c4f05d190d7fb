#include "core/seed_sequence.h"

#include "core/error.h"

namespace difu {
namespace {

constexpr uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875;
constexpr uint32_t kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd, kMixMultR = 0x4973f715;
constexpr uint32_t kXShift = 16;  // half the word

uint32_t hashmix(uint32_t value, uint32_t& hash_const) {
    value ^= hash_const;
    hash_const *= kMultA;
    value *= hash_const;
    return value ^ (value >> kXShift);
}

uint32_t mix(uint32_t x, uint32_t y) {
    uint32_t r = kMixMultL * x - kMixMultR * y;
    return r ^ (r >> kXShift);
}

// numpy's _coerce_to_uint32_array for a sequence of integers.
std::vector<uint32_t> words_of(const std::vector<uint64_t>& ints) {
    std::vector<uint32_t> out;
    for (uint64_t n : ints) {
        if (n == 0) out.push_back(0);
        for (; n > 0; n >>= 32) out.push_back(static_cast<uint32_t>(n));
    }
    return out;
}

}  // namespace

SeedSequence::SeedSequence(const std::vector<uint64_t>& entropy, const std::vector<uint64_t>& spawn_key,
                           uint32_t pool_size)
    : pool_(pool_size, 0) {
    if (pool_size < kDefaultPoolSize) throw Error::make("SeedSequence pool size {} is below {}", pool_size, kDefaultPoolSize);
    std::vector<uint32_t> words = words_of(entropy);
    const std::vector<uint32_t> spawn = words_of(spawn_key);
    if (!spawn.empty() && words.size() < pool_size) words.resize(pool_size, 0);
    words.insert(words.end(), spawn.begin(), spawn.end());

    uint32_t hash_const = kInitA;
    for (size_t i = 0; i < pool_.size(); ++i) pool_[i] = hashmix(i < words.size() ? words[i] : 0, hash_const);
    for (size_t src = 0; src < pool_.size(); ++src)
        for (size_t dst = 0; dst < pool_.size(); ++dst)
            if (src != dst) pool_[dst] = mix(pool_[dst], hashmix(pool_[src], hash_const));
    for (size_t src = pool_.size(); src < words.size(); ++src)
        for (size_t dst = 0; dst < pool_.size(); ++dst) pool_[dst] = mix(pool_[dst], hashmix(words[src], hash_const));
}

std::vector<uint32_t> SeedSequence::generate_state(size_t n_words) const {
    std::vector<uint32_t> state(n_words);
    uint32_t hash_const = kInitB;
    for (size_t i = 0; i < n_words; ++i) {
        uint32_t v = pool_[i % pool_.size()] ^ hash_const;
        hash_const *= kMultB;
        v *= hash_const;
        state[i] = v ^ (v >> kXShift);
    }
    return state;
}

}  // namespace difu
