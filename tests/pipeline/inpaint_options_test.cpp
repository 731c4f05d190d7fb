// tests/pipeline/inpaint_options_test.cpp — webui's inpainting options (pipeline/inpaint_mask.h): mask
// blur, the only-masked crop box, masked content, and their runs through the pipeline.
#include <gtest/gtest.h>

#include <cmath>

#include "io/image.h"
#include "pipeline/inpaint.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

DiffusionPipeline& pipe() {
    static DiffusionPipeline p(fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    return p;
}

Image l_image(int w, int h, uint8_t v = 0) { return Image{w, h, 1, std::vector<uint8_t>(static_cast<size_t>(w) * h, v)}; }

// A 128x128 mask, white in columns [x0, x1) and rows [y0, y1).
Image box_mask(int x0, int y0, int x1, int y1) {
    Image m{128, 128, 3, std::vector<uint8_t>(128 * 128 * 3, 0)};
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) std::fill_n(&m.pixels[(y * 128 + x) * 3], 3, uint8_t{255});
    return m;
}

GenerateRequest masked_request() {
    GenerateRequest r;
    r.prompt = "a photograph of an astronaut riding a horse";
    r.width = r.height = 128;
    r.steps = 3;
    r.seed = 42;
    r.init_image = read_image(fixture_path("sd1-tiny/init_image.png"));
    r.strength = 0.8f;
    r.mask = box_mask(40, 32, 104, 96);
    return r;
}

}  // namespace

TEST(InpaintMask, BlurIsCv2sGaussianWithWebuisKernelSize) {
    // sigma 1: kernel 2 int(2.5 + 0.5) + 1 = 7 taps of exp(-i^2 / 2), normalised; a lone white pixel
    // spreads into them (times 255, rounded) along x only, and reflect-101 keeps the left edge's share.
    Image l = l_image(21, 3);
    l.pixels[1 * 21 + 10] = 255;
    l.pixels[0 * 21 + 0] = 255;
    const Image b = blur_mask(l, 1, 0);
    double sum = 0;
    for (int i = -3; i <= 3; ++i) sum += std::exp(-0.5 * i * i);
    for (int i = -4; i <= 4; ++i) {
        const long want = std::abs(i) <= 3 ? std::lround(255 * std::exp(-0.5 * i * i) / sum) : 0;
        EXPECT_EQ(b.pixels[1 * 21 + 10 + i], want) << i;
    }
    EXPECT_EQ(b.pixels[0], std::lround(255 / sum));  // at the border: only tap 0 sees the pixel
    EXPECT_EQ(b.pixels[2 * 21 + 10], 0);              // no blur along y
    EXPECT_EQ(blur_mask(l, 0, 0).pixels, l.pixels);
    Image tall = l_image(5, 21);
    tall.pixels[10 * 5 + 2] = 255;
    const Image by = blur_mask(tall, 0, 1);
    EXPECT_EQ(by.pixels[9 * 5 + 2], std::lround(255 * std::exp(-0.5) / sum));
    EXPECT_EQ(by.pixels[9 * 5 + 1], 0);  // no blur along x
}

TEST(InpaintMask, OnlyMaskedBoxIsPaddedAndWidenedAsWebuiDoes) {
    Image l = l_image(100, 60);
    for (int y = 20; y < 30; ++y)
        for (int x = 10; x < 30; ++x) l.pixels[y * 100 + x] = 200;
    const auto box = masked_box(l, 5);
    ASSERT_TRUE(box);
    EXPECT_EQ((std::array{box->x1, box->y1, box->x2, box->y2}), (std::array{5, 15, 35, 35}));
    // 30x20 widened to a square: 10 more rows, 5 above and 5 below.
    const PixelBox sq = expand_to_aspect(*box, 64, 64, 100, 60);
    EXPECT_EQ((std::array{sq.x1, sq.y1, sq.x2, sq.y2}), (std::array{5, 10, 35, 40}));
    // Against the bottom edge: shifted up to stay inside.
    const PixelBox low = expand_to_aspect({60, 50, 100, 60}, 64, 64, 100, 60);
    EXPECT_EQ((std::array{low.x1, low.y1, low.x2, low.y2}), (std::array{60, 20, 100, 60}));
    // Taller than wide for a wide target: columns are added.
    const PixelBox wide = expand_to_aspect({40, 0, 50, 40}, 128, 64, 100, 60);
    EXPECT_EQ((std::array{wide.x1, wide.y1, wide.x2, wide.y2}), (std::array{5, 0, 85, 40}));
    EXPECT_FALSE(masked_box(l_image(8, 8), 4));
}

TEST(InpaintMask, FillKeepsTheOutsideAndPaintsTheHoleFromIt) {
    Image pic{32, 32, 3, std::vector<uint8_t>(32 * 32 * 3)};
    for (size_t i = 0; i < pic.pixels.size(); i += 3) pic.pixels[i] = 10, pic.pixels[i + 1] = 200, pic.pixels[i + 2] = 30;
    Image l = l_image(32, 32);
    for (int y = 8; y < 24; ++y)
        for (int x = 8; x < 24; ++x) {
            l.pixels[y * 32 + x] = 255;
            std::fill_n(&pic.pixels[(y * 32 + x) * 3], 3, uint8_t{255});  // the hole's own colour must not leak
        }
    const Image f = fill_masked(pic, l);
    EXPECT_EQ(f.at(0, 0)[1], 200);
    EXPECT_EQ(f.at(31, 5)[0], 10);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(f.at(16, 16)[c], pic.at(0, 0)[c], 2) << c;
}

TEST(InpaintMask, ResizeAndFillCentresAndRepeatsTheEdges) {
    Image pic{100, 50, 3, std::vector<uint8_t>(100 * 50 * 3)};
    for (int y = 0; y < 50; ++y)
        for (int x = 0; x < 100; ++x) pic.pixels[(y * 100 + x) * 3] = static_cast<uint8_t>(y * 5);
    const Image out = resize_and_fill(pic, 64, 64);  // 64x32 picture at rows 16..47
    ASSERT_EQ(out.width, 64);
    ASSERT_EQ(out.height, 64);
    EXPECT_EQ(out.at(10, 0)[0], out.at(10, 16)[0]);
    EXPECT_EQ(out.at(10, 63)[0], out.at(10, 47)[0]);
    EXPECT_LT(out.at(10, 16)[0], out.at(10, 47)[0]);
    EXPECT_EQ(parse_inpaint_fill("Latent Noise"), InpaintFill::LatentNoise);
    EXPECT_EQ(parse_inpaint_fill("3"), InpaintFill::LatentNothing);
    EXPECT_THROW(parse_inpaint_fill("zeros"), Error);
}

TEST(InpaintPipeline, OnlyMaskedRunsOnTheCropAndKeepsTheRestExactly) {
    GenerateRequest r = masked_request();
    r.mask = box_mask(80, 80, 112, 104);  // 32x24 in the lower right
    r.width = r.height = 64;              // the crop is inpainted at 64x64 and pasted back at 128x128
    r.inpaint.only_masked = true;
    r.inpaint.only_masked_padding = 8;
    r.inpaint.blur_x = r.inpaint.blur_y = 2;
    const GenerateResult out = pipe().generate(r);
    const Image& got = out.images.at(0).image;
    ASSERT_EQ(got.width, 128);
    ASSERT_EQ(got.height, 128);
    int changed = 0;
    for (int y = 0; y < 128; ++y)
        for (int x = 0; x < 128; ++x) {
            const bool near_mask = x >= 70 && x < 122 && y >= 70 && y < 114;  // box + padding + blur reach
            for (int c = 0; c < 3; ++c) {
                if (!near_mask) {
                    ASSERT_EQ(got.at(x, y)[c], r.init_image->at(x, y)[c]) << x << "," << y;
                }
                changed += !near_mask ? 0 : got.at(x, y)[c] != r.init_image->at(x, y)[c];
            }
        }
    EXPECT_GT(changed, 32 * 24);
    const std::string& info = out.images[0].infotext;
    EXPECT_NE(info.find("Inpaint area: Only masked, Masked area padding: 8"), std::string::npos) << info;
    EXPECT_NE(info.find("Mask blur: 2"), std::string::npos) << info;
    // A blank mask: webui falls back to img2img of the whole picture (at the request's size).
    r.mask = box_mask(0, 0, 0, 0);
    const Image plain = pipe().generate(r).images.at(0).image;
    EXPECT_EQ(plain.width, 64);
}

TEST(InpaintPipeline, MaskedContentChangesOnlyTheStartInsideTheMask) {
    GenerateRequest r = masked_request();
    std::vector<Image> results;
    for (InpaintFill fill : {InpaintFill::Original, InpaintFill::Fill, InpaintFill::LatentNoise, InpaintFill::LatentNothing}) {
        r.inpaint.fill = fill;
        const GenerateResult out = pipe().generate(r);
        results.push_back(out.images.at(0).image);
        if (fill != InpaintFill::Original) {
            EXPECT_NE(out.images[0].infotext.find(std::string("Masked content: ") + inpaint_fill_label(fill)), std::string::npos);
        }
    }
    for (size_t i = 1; i < results.size(); ++i) {
        EXPECT_NE(results[i].pixels, results[0].pixels) << i;
        EXPECT_EQ(results[i].at(5, 5)[0], r.init_image->at(5, 5)[0]) << i;  // outside: the original
    }
}

TEST(InpaintPipeline, NoiseMultiplierScalesImg2ImgNoise) {
    GenerateRequest r = masked_request();
    r.mask.reset();
    const Image base = pipe().generate(r).images.at(0).image;
    r.initial_noise_multiplier = 0.5f;
    const GenerateResult half = pipe().generate(r);
    EXPECT_NE(half.images.at(0).image.pixels, base.pixels);
    EXPECT_NE(half.images[0].infotext.find("Noise multiplier: 0.5"), std::string::npos) << half.images[0].infotext;
}

TEST(InitImages, ResizeModesFitAsWebuiDoes) {
    Image pic{100, 50, 3, std::vector<uint8_t>(100 * 50 * 3, 90)};
    for (ResizeMode m : {ResizeMode::Just, ResizeMode::CropAndResize, ResizeMode::ResizeAndFill}) {
        const Image out = fit_init_image(pic, m, 64, 64);
        EXPECT_EQ(out.width, 64);
        EXPECT_EQ(out.height, 64);
    }
    const Image latent = fit_init_image(pic, ResizeMode::LatentUpscale, 64, 64);  // its own size, on the 8-pixel grid
    EXPECT_EQ(latent.width, 96);
    EXPECT_EQ(latent.height, 48);
}

TEST(InitImages, SeveralInitImagesStartOneBatchPositionEach) {
    // webui: init_images [A, B] make a batch of two, image i from picture i. Position 0 is the same run
    // as with A alone at both positions (the batch's noise is the same); position 1 differs.
    GenerateRequest r = masked_request();
    r.mask.reset();
    r.batch_size = 2;
    r.rng = RngSource::Gpu;
    const GenerateResult same = pipe().generate(r);
    Image other = *r.init_image;
    for (uint8_t& v : other.pixels) v = static_cast<uint8_t>(255 - v);
    r.more_init_images = {other};
    const GenerateResult mixed = pipe().generate(r);
    ASSERT_EQ(mixed.images.size(), 2u);
    EXPECT_EQ(mixed.images[0].image.pixels, same.images[0].image.pixels);
    EXPECT_NE(mixed.images[1].image.pixels, same.images[1].image.pixels);
    r.batch_size = 3;  // two pictures for three positions: refused
    EXPECT_THROW(pipe().generate(r), Error);
}

TEST(InitImages, LatentUpscaleEncodesAtTheImagesSizeAndResizesTheLatent) {
    GenerateRequest r = masked_request();
    r.mask.reset();
    r.init_image = resize_image(*r.init_image, 96, 96);
    r.resize_mode = ResizeMode::LatentUpscale;
    const GenerateResult latent = pipe().generate(r);
    ASSERT_EQ(latent.images.at(0).image.width, 128);
    r.resize_mode = ResizeMode::Just;
    EXPECT_NE(pipe().generate(r).images.at(0).image.pixels, latent.images[0].image.pixels);
}
