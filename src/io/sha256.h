// io/sha256.h — SHA-256 (FIPS 180-4), for webui's model hash: the first 10 hex digits of the SHA-256
// of the whole checkpoint file. Uses the x86 SHA extensions when the CPU has them (~1 GB/s on this
// machine), else a portable loop (~170 MB/s); the two are held together by tests.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace difu {

class Sha256 {
public:
    using Digest = std::array<uint8_t, 32>;
    static constexpr size_t kBlockBytes = 64;

    explicit Sha256(bool allow_hardware = true);
    void update(std::span<const uint8_t> data);
    Digest finish();  // the object is spent afterwards

    static bool hardware_available();  // SHA-NI (+ SSSE3, SSE4.1) on this CPU

private:
    void compress(const uint8_t* blocks, size_t n);
    uint32_t state_[8];
    uint8_t buffer_[kBlockBytes];
    size_t buffered_ = 0;
    uint64_t total_bytes_ = 0;
    bool hardware_;
};

std::string to_hex(std::span<const uint8_t> bytes);
std::string sha256_hex(std::span<const uint8_t> data);
// Streams the file in chunks; throws Error naming the file when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace difu
