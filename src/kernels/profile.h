// kernels/profile.h — optional per-kernel-kind wall time, for `difu bench --profile`: where a
// forward pass spends its time (conv, linear, attention, norms, element-wise). Off by default; when
// off a scope costs one branch.
#pragma once
#include <array>
#include <chrono>
#include <string_view>

namespace difu {

enum class KernelKind { Conv, Linear, Attention, GroupNorm, LayerNorm, Elementwise, Count };
std::string_view kernel_kind_name(KernelKind k);

struct KernelProfile {
    bool enabled = false;
    std::array<double, static_cast<size_t>(KernelKind::Count)> seconds{};
    void reset() { seconds.fill(0.0); }
};
KernelProfile& kernel_profile();

// Times the enclosing scope into its kind's total. Kernels are called from one thread at a time
// (they parallelise inside), so a plain add is enough.
class KernelScope {
public:
    explicit KernelScope(KernelKind k) : kind_(k), on_(kernel_profile().enabled) {
        if (on_) t0_ = std::chrono::steady_clock::now();
    }
    ~KernelScope() {
        if (on_)
            kernel_profile().seconds[static_cast<size_t>(kind_)] +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    }

private:
    KernelKind kind_;
    bool on_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace difu
