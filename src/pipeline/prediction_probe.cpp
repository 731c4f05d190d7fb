#include "pipeline/prediction_probe.h"

#include <vector>

namespace difu {
namespace {
constexpr float kProbeValue = 0.5f;       // every element of x and of the context
constexpr int64_t kProbeLatentSide = 8;
constexpr int64_t kProbeContextTokens = 2;
constexpr float kProbeTimestep = 999.0f;
constexpr double kVThreshold = -1.0;      // mean(out - x) below this: v

Tensor filled(Shape shape, float value) {
    Tensor t = Tensor::empty(std::move(shape));
    for (float& v : t.f32_mut()) v = value;
    return t;
}
}  // namespace

PredictionProbe probe_prediction(const UNetModel& unet) {
    const UNetConfig& c = unet.config();
    Tensor x = filled({1, c.in_channels, kProbeLatentSide, kProbeLatentSide}, kProbeValue);
    Tensor context = filled({1, kProbeContextTokens, c.context_dim}, kProbeValue);
    const std::vector<float> t{kProbeTimestep};
    Arena arena;
    Tensor out = unet.forward(x, t, context, arena);
    double sum = 0;
    for (float v : out.f32()) sum += static_cast<double>(v) - kProbeValue;
    const double mean = sum / static_cast<double>(out.numel());
    return {prediction_from_probe(mean), mean};
}

Prediction prediction_from_probe(double mean_output_minus_input) {
    return mean_output_minus_input < kVThreshold ? Prediction::V : Prediction::Eps;
}

}  // namespace difu
