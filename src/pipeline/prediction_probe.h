// pipeline/prediction_probe.h — tells a v-prediction UNet from an eps one when the checkpoint's keys
// cannot (SD 2.x 768-v and 512-base have identical layouts) and no sidecar yaml says, the way webui
// does (sd_models_config.is_using_v_parameterization_for_sd2): run the UNet once on a constant input
//   x = 0.5 (1 x 4 x 8 x 8),  t = 999,  context = 0.5 (1 x 2 x context_dim)
// and call it v when mean(UNet(x) - x) < -1. An eps model predicts the noise of a nearly pure-noise
// latent (about x itself); a v model predicts v = sqrt(a) eps - sqrt(1 - a) x0 with a ~ 0.005 at
// t = 999, which on that input comes out strongly negative.
#pragma once
#include "io/model_config.h"
#include "models/unet/unet.h"

namespace difu {

struct PredictionProbe {
    Prediction prediction;
    double mean_output_minus_input;  // the statistic, for messages and tests
};

PredictionProbe probe_prediction(const UNetModel& unet);
// The rule alone: v when the statistic is below -1.
Prediction prediction_from_probe(double mean_output_minus_input);

// Trained weights are what make the statistic meaningful: a random-weight UNet (the fixtures) gives
// values near 0 whatever it was meant to predict, so tests of such models state eps / v in a sidecar yaml.

}  // namespace difu
