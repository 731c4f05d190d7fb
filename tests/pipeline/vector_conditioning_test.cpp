// tests/pipeline/vector_conditioning_test.cpp — the SDXL refiner's vector (no fixture of its own: its
// layout is sgm's sd_xl_refiner.yaml conditioner order, checked piece by piece), and a whole refiner run.
#include <gtest/gtest.h>

#include "io/random_checkpoint.h"
#include "models/unet/timestep_embedding.h"
#include "pipeline/pipeline.h"
#include "pipeline/vector_conditioning.h"
#include "test_support.h"

using namespace difu;

TEST(VectorConditioning, RefinerEndsWithTheAestheticScoreOfItsSide) {
    Tensor pooled = Tensor::empty({1, 3});
    for (int i = 0; i < 3; ++i) pooled.f32_mut()[i] = 0.5f + i;
    SizeConditioning s;
    s.crop_top = 8;
    for (bool negative : {false, true}) {
        Tensor y = vector_conditioning(VectorConditioning::PooledAndAesthetic, pooled, s, 640, 512, negative);
        ASSERT_EQ(y.shape(), (Shape{1, 3 + 5 * 256}));
        // (original h, original w, crop top, crop left, aesthetic score), each 256 Fourier features
        const std::vector<float> values{512, 640, 8, 0, negative ? 2.5f : 6.0f};
        Tensor expected = timestep_embedding(values, 256);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(y.f32()[i], pooled.f32()[i]);
        for (int64_t i = 0; i < expected.numel(); ++i) ASSERT_EQ(y.f32()[3 + i], expected.f32()[i]) << i;
    }
}

TEST(VectorConditioning, BaseHasTargetSizeInsteadOfAestheticScore) {
    Tensor pooled = Tensor::empty({1, 2});
    for (float& v : pooled.f32_mut()) v = 1.0f;
    Tensor y = vector_conditioning(VectorConditioning::PooledAndSizes, pooled, SizeConditioning{}, 640, 512);
    ASSERT_EQ(y.shape(), (Shape{1, 2 + 6 * 256}));
    Tensor expected = timestep_embedding(std::vector<float>{512, 640, 0, 0, 512, 640}, 256);
    for (int64_t i = 0; i < expected.numel(); ++i) ASSERT_EQ(y.f32()[2 + i], expected.f32()[i]) << i;
}

TEST(VectorConditioning, ARefinerCheckpointGenerates) {
    // make-random's refiner layout at small widths (OpenCLIP bigG only, adm = pooled + 5 x 256).
    ModelConfig cfg = architecture_config("sdxl-refiner");
    cfg.unet.model_channels = 64;
    cfg.unet.transformer_depth = {0, 1, 1, 0};
    cfg.unet.middle_transformer_depth = 1;
    TextConfig& t = cfg.text();
    t.width = 64; t.heads = 1; t.intermediate = 256; t.layers = 2; t.vocab_size = 49408; t.pooled_dim = 32;
    cfg.unet.context_dim = 64;
    cfg.unet.adm_in_channels = 32 + 5 * 256;
    cfg.vae.ch = 32;
    const std::string path = test::temp_dir() + "/refiner.safetensors";
    write_random_checkpoint(path, cfg, DType::F16, 3);
    DiffusionPipeline pipe(path, Precision::FP32, ModelResidency::OneAtATime);
    EXPECT_EQ(pipe.config().family, ModelFamily::SDXLRefiner);
    GenerateRequest r;
    r.prompt = "a cat";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 1;
    r.sampler = "euler";
    EXPECT_EQ(pipe.generate(r).images.size(), 1u);
}
