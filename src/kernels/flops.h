// kernels/flops.h — counts the floating-point work the big kernels do (2 per multiply-add), so that
// benchmarks report GFLOP/s of what actually ran rather than of a formula.
#pragma once
#include <atomic>
#include <cstdint>

namespace difu {

inline std::atomic<uint64_t>& flop_counter() {
    static std::atomic<uint64_t> counter{0};
    return counter;
}
inline void count_flops(uint64_t n) { flop_counter().fetch_add(n, std::memory_order_relaxed); }

}  // namespace difu
