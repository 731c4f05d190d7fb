#include "kernels/profile.h"

namespace difu {

std::string_view kernel_kind_name(KernelKind k) {
    switch (k) {
        case KernelKind::Conv: return "conv";
        case KernelKind::Linear: return "linear";
        case KernelKind::Attention: return "attention";
        case KernelKind::GroupNorm: return "group_norm";
        case KernelKind::LayerNorm: return "layer_norm";
        case KernelKind::Elementwise: return "elementwise";
        case KernelKind::Count: break;
    }
    return "?";
}

KernelProfile& kernel_profile() {
    static KernelProfile p;
    return p;
}

}  // namespace difu
