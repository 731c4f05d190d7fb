#include "sampling/tensor_math.h"

namespace difu {

namespace {
void check_same(const Tensor& x, const Tensor& y) {
    DIFU_CHECK(x.shape() == y.shape(), "sampler tensors {} and {} differ", shape_str(x.shape()), shape_str(y.shape()));
}
}  // namespace

Tensor axpby(float a, const Tensor& x, float b, const Tensor& y) {
    check_same(x, y);
    Tensor out = Tensor::empty(x.shape());
    auto o = out.f32_mut();
    auto xs = x.f32(), ys = y.f32();
    for (size_t i = 0; i < o.size(); ++i) o[i] = a * xs[i] + b * ys[i];
    return out;
}

Tensor axpbypcz(float a, const Tensor& x, float b, const Tensor& y, float c, const Tensor& z) {
    check_same(x, y);
    check_same(x, z);
    Tensor out = Tensor::empty(x.shape());
    auto o = out.f32_mut();
    auto xs = x.f32(), ys = y.f32(), zs = z.f32();
    for (size_t i = 0; i < o.size(); ++i) o[i] = a * xs[i] + b * ys[i] + c * zs[i];
    return out;
}

Tensor scaled(const Tensor& x, float a) {
    Tensor out = Tensor::empty(x.shape());
    auto o = out.f32_mut();
    auto xs = x.f32();
    for (size_t i = 0; i < o.size(); ++i) o[i] = a * xs[i];
    return out;
}

Tensor to_d(const Tensor& x, float sigma, const Tensor& denoised) {
    check_same(x, denoised);
    Tensor out = Tensor::empty(x.shape());
    auto o = out.f32_mut();
    auto xs = x.f32(), ds = denoised.f32();
    for (size_t i = 0; i < o.size(); ++i) o[i] = (xs[i] - ds[i]) / sigma;
    return out;
}

}  // namespace difu
