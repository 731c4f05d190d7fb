#include "models/layers.h"

#include <cstring>

#include "kernels/activations.h"
#include "kernels/group_norm.h"
#include "kernels/layer_norm.h"
#include "kernels/resample.h"

namespace difu {

Tensor group_norm(const NormWeights& w, const Tensor& x, float eps, bool silu, Arena& a) {
    const int64_t c = x.dim(-1), n = x.dim(0), hw = x.numel() / (n * c);
    DIFU_CHECK(w.channels() == c, "group norm has {} channels, input {}", w.channels(), shape_str(x.shape()));
    Tensor y = a.alloc(x.shape());
    difu::group_norm(x.data<float>(), y.mutable_data<float>(), n, hw, c, kGroupNormGroups, w.weight.data<float>(),
                     w.bias.data<float>(), eps, silu);
    return y;
}

void group_norm_inplace(const NormWeights& w, Tensor& x, float eps, bool silu) {
    const int64_t c = x.dim(-1), n = x.dim(0), hw = x.numel() / (n * c);
    DIFU_CHECK(w.channels() == c, "group norm has {} channels, input {}", w.channels(), shape_str(x.shape()));
    float* p = x.mutable_data<float>();  // the kernel reads an element before writing it: in place is safe
    difu::group_norm(p, p, n, hw, c, kGroupNormGroups, w.weight.data<float>(), w.bias.data<float>(), eps, silu);
}

Tensor layer_norm(const NormWeights& w, const Tensor& x, Arena& a) {
    const int64_t c = x.dim(-1);
    DIFU_CHECK(w.channels() == c, "layer norm has {} channels, input {}", w.channels(), shape_str(x.shape()));
    Tensor y = a.alloc(x.shape());
    difu::layer_norm(x.data<float>(), y.mutable_data<float>(), x.numel() / c, c, w.weight.data<float>(),
                     w.bias.data<float>());
    return y;
}

Tensor silu(const Tensor& x, Arena& a) {
    Tensor y = a.alloc(x.shape());
    std::memcpy(y.mutable_data<float>(), x.data<float>(), x.nbytes());
    difu::silu(y.mutable_data<float>(), y.numel());
    return y;
}

Tensor add(const Tensor& x, const Tensor& y, Arena& a) {
    DIFU_CHECK(x.shape() == y.shape(), "add: shapes {} and {} differ", shape_str(x.shape()), shape_str(y.shape()));
    Tensor z = a.alloc(x.shape());
    std::memcpy(z.mutable_data<float>(), x.data<float>(), x.nbytes());
    difu::add_inplace(z.mutable_data<float>(), y.data<float>(), z.numel());
    return z;
}

void add_inplace(Tensor& y, const Tensor& x) {
    DIFU_CHECK(x.shape() == y.shape(), "add: shapes {} and {} differ", shape_str(x.shape()), shape_str(y.shape()));
    difu::add_inplace(y.mutable_data<float>(), x.data<float>(), y.numel());
}

void add_channel_bias(Tensor& x, const Tensor& bias) {
    const int64_t n = x.dim(0), c = x.dim(-1), rows = x.numel() / (n * c);
    DIFU_CHECK(bias.numel() == n * c, "channel bias {} does not fit {}", shape_str(bias.shape()), shape_str(x.shape()));
    float* xp = x.mutable_data<float>();
    const float* bp = bias.data<float>();
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t s = 0; s < n; ++s)
        for (int64_t r = 0; r < rows; ++r) {
            float* row = xp + (s * rows + r) * c;
#pragma omp simd
            for (int64_t ch = 0; ch < c; ++ch) row[ch] += bp[s * c + ch];
        }
}

Tensor concat_channels(const Tensor& x, const Tensor& y, Arena& a) {
    Shape s = x.shape();
    s.back() = x.dim(-1) + y.dim(-1);
    DIFU_CHECK(x.numel() / x.dim(-1) == y.numel() / y.dim(-1), "concat: {} and {} differ outside the channels",
               shape_str(x.shape()), shape_str(y.shape()));
    Tensor z = a.alloc(s);
    difu::concat_channels(x.data<float>(), x.dim(-1), y.data<float>(), y.dim(-1), z.mutable_data<float>(),
                          x.numel() / x.dim(-1));
    return z;
}

Tensor upsample_nearest2x(const Tensor& x, Arena& a) {
    Tensor y = a.alloc({x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)});
    difu::upsample_nearest2x(x.data<float>(), y.mutable_data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    return y;
}

Tensor nchw_to_nhwc(const Tensor& x, Arena& a) {
    Tensor xc = x.dtype() == DType::F32 ? x.contiguous() : x.to(DType::F32);
    Tensor y = a.alloc({x.dim(0), x.dim(2), x.dim(3), x.dim(1)});
    difu::nchw_to_nhwc(xc.data<float>(), y.mutable_data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    return y;
}

Tensor nhwc_to_nchw(const Tensor& x) {
    Tensor y = Tensor::empty({x.dim(0), x.dim(3), x.dim(1), x.dim(2)});
    difu::nhwc_to_nchw(x.data<float>(), y.mutable_data<float>(), x.dim(0), x.dim(3), x.dim(1), x.dim(2));
    return y;
}

Linear conv1x1_as_linear(const Weights& w, const std::string& name, int64_t out, int64_t in) {
    const Tensor& weight = w.stored(name + ".weight", {out, in, 1, 1});
    const Tensor& bias = w.stored(name + ".bias", {out});
    Linear l(weight.reshape({out, in}), bias, w.precision());
    w.release({&weight, &bias});
    return l;
}

Conv2d conv(const Weights& w, const std::string& name, int64_t out, int64_t in, int k, ConvGeometry g) {
    const Tensor& weight = w.stored(name + ".weight", {out, in, k, k});
    const Tensor& bias = w.stored(name + ".bias", {out});
    Conv2d c(weight, bias, g, w.precision());
    w.release({&weight, &bias});
    return c;
}

}  // namespace difu
