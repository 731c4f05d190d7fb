// io/sha256.cpp — SHA-256 compression, portable (FIPS 180-4 §6.2.2, written as the standard states
// it) and with the x86 SHA extensions (sha256rnds2 does two rounds, sha256msg1/2 the schedule), the
// latter chosen at run time so that a portable build still uses it.
#include "io/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace difu {
namespace {

constexpr uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

alignas(16) constexpr uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr size_t kFileChunkBytes = size_t{4} << 20;

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void compress_portable(uint32_t h[8], const uint8_t* p, size_t blocks) {
    for (; blocks--; p += Sha256::kBlockBytes) {
        uint32_t w[64];
        for (int t = 0; t < 16; ++t)
            w[t] = (uint32_t{p[4 * t]} << 24) | (uint32_t{p[4 * t + 1]} << 16) | (uint32_t{p[4 * t + 2]} << 8) | p[4 * t + 3];
        for (int t = 16; t < 64; ++t) {
            const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; ++t) {
            const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
}

#if defined(__x86_64__)
// The state lives as two vectors ABEF and CDGH, the layout sha256rnds2 wants.
__attribute__((target("sha,ssse3,sse4.1"))) void compress_shani(uint32_t h[8], const uint8_t* p, size_t blocks) {
    const __m128i kByteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)), 0xB1);     // CDAB
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4)), 0x1B);  // EFGH
    __m128i abef = _mm_alignr_epi8(tmp, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);
    for (; blocks--; p += Sha256::kBlockBytes) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        __m128i w[4];  // message words 4i..4i+3, kept for the next four groups
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) {
            __m128i m;
            if (i < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)), kByteSwap);
            } else {  // W_t = W_{t-16} + σ0(W_{t-15}) + W_{t-7} + σ1(W_{t-2}), four lanes at a time
                const __m128i w7 = _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4);
                m = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]), w7),
                                         w[(i + 3) & 3]);
            }
            w[i & 3] = m;
            const __m128i wk = _mm_add_epi32(m, _mm_load_si128(reinterpret_cast<const __m128i*>(K + 4 * i)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    tmp = _mm_shuffle_epi32(abef, 0x1B);                                                      // FEBA
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);                                                     // DCHG
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_blend_epi16(tmp, cdgh, 0xF0));        // DCBA
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), _mm_alignr_epi8(cdgh, tmp, 8));      // HGFE
}
#endif

}  // namespace

bool Sha256::hardware_available() {
#if defined(__x86_64__)
    static const bool available = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        const bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        return ssse3 && sse41 && (b & (1u << 29));  // CPUID.7.0:EBX bit 29 = SHA
    }();
    return available;
#else
    return false;
#endif
}

Sha256::Sha256(bool allow_hardware) : hardware_(allow_hardware && hardware_available()) {
    std::memcpy(state_, kInitialState, sizeof state_);
}

void Sha256::compress(const uint8_t* blocks, size_t n) {
#if defined(__x86_64__)
    if (hardware_) return compress_shani(state_, blocks, n);
#endif
    compress_portable(state_, blocks, n);
}

void Sha256::update(std::span<const uint8_t> data) {
    const uint8_t* p = data.data();
    size_t n = data.size();
    total_bytes_ += n;
    if (buffered_ > 0) {
        const size_t take = std::min(n, kBlockBytes - buffered_);
        std::memcpy(buffer_ + buffered_, p, take);
        buffered_ += take, p += take, n -= take;
        if (buffered_ < kBlockBytes) return;
        compress(buffer_, 1);
        buffered_ = 0;
    }
    compress(p, n / kBlockBytes);
    p += n / kBlockBytes * kBlockBytes;
    buffered_ = n % kBlockBytes;
    std::memcpy(buffer_, p, buffered_);
}

Sha256::Digest Sha256::finish() {
    // Padding: 0x80, zeros to 56 mod 64, then the message length in bits as u64 big-endian.
    const uint64_t bits = total_bytes_ * 8;
    uint8_t pad[2 * kBlockBytes] = {0x80};
    const size_t pad_len = (buffered_ < 56 ? 56 : 120) - buffered_;
    for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    update({pad, pad_len + 8});
    Digest out;
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(state_[i] >> (24 - 8 * j));
    return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : bytes) s += kDigits[b >> 4], s += kDigits[b & 15];
    return s;
}

std::string sha256_hex(std::span<const uint8_t> data) {
    Sha256 h;
    h.update(data);
    return to_hex(h.finish());
}

std::string sha256_file_hex(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error::at(path, "cannot open: {}", std::strerror(errno));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::vector<uint8_t> chunk(kFileChunkBytes);
    Sha256 h;
    for (;;) {
        const ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            throw Error::at(path, "read failed while hashing: {}", std::strerror(e));
        }
        if (n == 0) break;
        h.update({chunk.data(), static_cast<size_t>(n)});
    }
    ::close(fd);
    return to_hex(h.finish());
}

}  // namespace difu
