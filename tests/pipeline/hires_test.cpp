// tests/pipeline/hires_test.cpp — webui's hires fix: the latent upscalers against torch's interpolate
// on small tensors whose results are worked out by hand below, webui's hires sizes, and the second pass
// through the pipeline.
#include <gtest/gtest.h>

#include "pipeline/hires.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

Tensor row(std::vector<float> v, int64_t h = 1) { return Tensor::from_f32({1, 1, h, static_cast<int64_t>(v.size()) / h}, v); }

void expect_values(const Tensor& t, const std::vector<float>& want, const char* what) {
    ASSERT_EQ(static_cast<size_t>(t.numel()), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(t.f32()[i], want[i], 1e-6) << what << " [" << i << "]";
}

}  // namespace

TEST(Hires, LatentUpscalersAreTorchsInterpolate) {
    // bilinear, align_corners=False, 2 -> 4: source x = (d + 1/2)/2 - 1/2 = -0.25 (clamped to 0), 0.25,
    // 0.75, 1.25 (right neighbour clamped): weights (1, 0), (3/4, 1/4), (1/4, 3/4), (0, 1) on each axis.
    expect_values(upscale_latent(row({1, 2, 3, 4}, 2), 4, 4, LatentUpscale::Bilinear),
                  {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, "bilinear");
    // Upscaling, the antialiased bilinear filter (a triangle of support 1) gives the same.
    expect_values(upscale_latent(row({1, 2, 3, 4}, 2), 4, 4, LatentUpscale::BilinearAntialiased),
                  {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, "bilinear aa");
    // 3 -> 5, scale 0.6: nearest floor(0.6 d) = 0 0 1 1 2; nearest-exact floor(0.6 (d + 1/2)) = 0 0 1 2 2.
    expect_values(upscale_latent(row({10, 20, 30}), 1, 5, LatentUpscale::Nearest), {10, 10, 20, 20, 30}, "nearest");
    expect_values(upscale_latent(row({10, 20, 30}), 1, 5, LatentUpscale::NearestExact), {10, 10, 20, 30, 30}, "nearest-exact");
    // bicubic (A = -0.75): W(x) = 1.25|x|^3 - 2.25|x|^2 + 1 (|x| <= 1), -0.75|x|^3 + 3.75|x|^2 - 6|x| + 3 (1 < |x| < 2).
    // [0, 4, 8, 12] -> 8 (scale 1/2). d = 2: x = 0.75, taps -1 (clamped to 0), 0, 1, 2 at distances 1.75,
    // 0.75, 0.25, 1.25: W = -0.03515625, 0.26171875, 0.87890625, -0.10546875 -> 4·0.87890625 - 8·0.10546875 = 2.671875.
    // d = 0: x = -0.25, taps -2, -1, 0 (all clamped to 0, value 0) and 1 (value 4) with the same W -> -0.421875.
    {
        const Tensor up = upscale_latent(row({0, 4, 8, 12}), 1, 8, LatentUpscale::Bicubic);
        EXPECT_NEAR(up.f32()[2], 2.671875f, 1e-6);
        EXPECT_NEAR(up.f32()[0], -0.421875f, 1e-6);
    }
    // Shrinking 4 -> 2 with the antialiased triangle of support 2 (scale 2): output 0 centred at 1 takes
    // inputs 0, 1, 2 at weights 0.75, 0.75, 0.25 (/ 1.75); output 1 at 3 takes 1, 2, 3 at 0.25, 0.75, 0.75.
    expect_values(upscale_latent(row({1, 2, 3, 4}), 1, 2, LatentUpscale::BilinearAntialiased), {3.0f / 1.75f, 5.75f / 1.75f}, "aa shrink");
    EXPECT_THROW(parse_hires_upscaler("R-ESRGAN 4x+"), Error);
    EXPECT_TRUE(parse_hires_upscaler("Latent (bicubic antialiased)").latent);
    EXPECT_FALSE(parse_hires_upscaler("Lanczos").latent);
}

TEST(Hires, SizesAsWebuiComputesThem) {
    HiresFix h;
    HiresSize s = hires_size(512, 512, h);  // scale 2
    EXPECT_EQ(s.width, 1024);
    EXPECT_EQ(s.height, 1024);
    h.resize_width = 1024;  // height from the aspect
    s = hires_size(512, 768, h);
    EXPECT_EQ(s.height, 1536);
    h.resize_height = 512;  // another aspect: upscale to cover, then trim latent cells
    s = hires_size(512, 512, h);
    EXPECT_EQ(s.width, 1024);
    EXPECT_EQ(s.height, 1024);
    EXPECT_EQ(s.trim_x, 0);
    EXPECT_EQ(s.trim_y, (1024 - 512) / 8);
}

TEST(Hires, TheSecondPassRunsAtTheNewSizeAndIsNamedInTheInfotext) {
    static DiffusionPipeline pipe(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r;
    r.prompt = "a photograph of an astronaut riding a horse";
    r.width = r.height = 64;
    r.steps = 3;
    r.seed = 4;
    r.hires = HiresFix{};
    r.hires->steps = 2;
    int second_pass_steps = 0;
    const GenerateResult latent = pipe.generate(r, [&](const ProgressInfo& p) {
        if (p.phase == "sampling" && p.steps == 2) ++second_pass_steps;
        return true;
    });
    ASSERT_EQ(latent.images.size(), 1u);
    EXPECT_EQ(latent.images[0].image.width, 128);
    EXPECT_EQ(second_pass_steps, 2);
    const std::string& info = latent.images[0].infotext;
    for (const char* field : {"Hires upscale: 2", "Hires steps: 2", "Hires upscaler: Latent", "Denoising strength: 0.75", "Size: 64x64"})
        EXPECT_NE(info.find(field), std::string::npos) << field << " in " << info;
    EXPECT_EQ(pipe.generate(r).images[0].image.pixels, latent.images[0].image.pixels);  // reproducible
    r.hires->upscaler = "Lanczos";  // decode, resize the picture, encode
    const GenerateResult pixel = pipe.generate(r);
    EXPECT_EQ(pixel.images[0].image.width, 128);
    EXPECT_NE(pixel.images[0].image.pixels, latent.images[0].image.pixels);
    r.hires->upscaler = "Latent";
    r.hires->resize_width = 96;  // 96 x 64: upscaled to 96 x 96, two latent rows trimmed off each side
    r.hires->resize_height = 64;
    const GenerateResult resized = pipe.generate(r);
    EXPECT_EQ(resized.images[0].image.width, 96);
    EXPECT_EQ(resized.images[0].image.height, 64);
    EXPECT_NE(resized.images[0].infotext.find("Hires resize: 96x64"), std::string::npos);
}
