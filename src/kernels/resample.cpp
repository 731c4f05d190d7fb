#include "kernels/resample.h"
#include "kernels/profile.h"

#include <cstring>

namespace difu {

void upsample_nearest2x(const float* x, float* y, int64_t n, int64_t h, int64_t w, int64_t c) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t s = 0; s < n; ++s)
        for (int64_t oy = 0; oy < 2 * h; ++oy) {
            const float* src = x + ((s * h + oy / 2) * w) * c;
            float* dst = y + ((s * 2 * h + oy) * 2 * w) * c;
            for (int64_t ox = 0; ox < 2 * w; ++ox)
                std::memcpy(dst + ox * c, src + (ox / 2) * c, static_cast<size_t>(c) * sizeof(float));
        }
}

void concat_channels(const float* a, int64_t ca, const float* b, int64_t cb, float* y, int64_t rows) {
    KernelScope profile_scope(KernelKind::Elementwise);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(y + r * (ca + cb), a + r * ca, static_cast<size_t>(ca) * sizeof(float));
        std::memcpy(y + r * (ca + cb) + ca, b + r * cb, static_cast<size_t>(cb) * sizeof(float));
    }
}

void nchw_to_nhwc(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t s = 0; s < n; ++s)
        for (int64_t p = 0; p < h * w; ++p)
            for (int64_t ch = 0; ch < c; ++ch) y[(s * h * w + p) * c + ch] = x[(s * c + ch) * h * w + p];
}

void nhwc_to_nchw(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t s = 0; s < n; ++s)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < h * w; ++p) y[(s * c + ch) * h * w + p] = x[(s * h * w + p) * c + ch];
}

}  // namespace difu
