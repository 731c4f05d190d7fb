// tests/pipeline/watermark_test.cpp — the dwtDct watermark (pipeline/watermark_dwtdct.h) against the
// invisible-watermark library run through the release scripts (watermark-dwtdct fixture): every SD 1.x
// watermarked picture byte for byte, every decoded bit and vote share of every stored source.
#include <gtest/gtest.h>

#include <string>

#include "io/checkpoint.h"
#include "io/image.h"
#include "pipeline/watermark_dwtdct.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {
const Checkpoint& ref() {
    static const Checkpoint c = load_checkpoint(fixture_path("watermark-dwtdct/ref.safetensors"));
    return c;
}
std::vector<uint8_t> u8s(const std::string& name) {
    const Tensor& t = ref().get(name);
    const uint8_t* p = t.data<uint8_t>();
    return std::vector<uint8_t>(p, p + t.numel());
}
constexpr int kCases = 4;
}  // namespace

TEST(WatermarkDwtDct, PayloadsAreTheReleases) {
    EXPECT_EQ(sd1_watermark_bits(), u8s("message.sd1_bits"));
    EXPECT_EQ(sdxl_watermark_bits(), u8s("message.sdxl_bits"));
    EXPECT_EQ(bytes_of_bits(sd1_watermark_bits()), "StableDiffusionV1");
    EXPECT_EQ(parse_watermark_message("hex:b3ec907bb19e"), sdxl_watermark_bits());
    EXPECT_EQ(parse_watermark_message("sd1"), parse_watermark_message("StableDiffusionV1"));
    EXPECT_THROW(parse_watermark_message("hex:abc"), Error);
    EXPECT_THROW(parse_watermark_message(""), Error);
}

TEST(WatermarkDwtDct, Sd1EmbeddingIsByteForByteTheLibrarys) {
    for (int i = 0; i < kCases; ++i) {
        const Image input = read_image(fixture_path("watermark-dwtdct/input_" + std::to_string(i) + ".png"), Alpha::Drop);
        const Image want = read_image(fixture_path("watermark-dwtdct/sd1_watermarked_" + std::to_string(i) + ".png"), Alpha::Drop);
        const Image got = embed_watermark_dwtdct(input, sd1_watermark_bits());
        ASSERT_EQ(got.pixels.size(), want.pixels.size()) << i;
        size_t differ = 0;
        for (size_t k = 0; k < got.pixels.size(); ++k) differ += got.pixels[k] != want.pixels[k];
        EXPECT_EQ(differ, 0u) << "case " << i << " (" << input.width << "x" << input.height << ")";
    }
}

TEST(WatermarkDwtDct, DetectionGivesTheLibrarysBitsAndVotes) {
    for (int i = 0; i < kCases; ++i)
        for (const char* source : {"clean", "sd1", "sdxl"}) {
            const std::string file = std::string(source) == "clean" ? "input_" : std::string(source) + "_watermarked_";
            const Image img = read_image(fixture_path("watermark-dwtdct/" + file + std::to_string(i) + ".png"), Alpha::Drop);
            for (int length : {136, 48}) {
                const std::string key = "decode." + std::to_string(i) + "." + source;
                const WatermarkReading r = detect_watermark_dwtdct(img, length);
                EXPECT_EQ(r.bits, u8s(key + ".bits" + std::to_string(length))) << key << " " << length;
                const Tensor& scores = ref().get(key + ".avg_scores" + std::to_string(length));
                ASSERT_EQ(r.scores.size(), static_cast<size_t>(scores.numel()));
                for (size_t k = 0; k < r.scores.size(); ++k) EXPECT_EQ(r.scores[k], scores.data<double>()[k]) << key << " bit " << k;
            }
        }
    // The textured picture carries its messages whole: "StableDiffusionV1", and SDXL's 48 bits.
    const Image sd1 = read_image(fixture_path("watermark-dwtdct/sd1_watermarked_0.png"), Alpha::Drop);
    EXPECT_EQ(bytes_of_bits(detect_watermark_dwtdct(sd1, 136).bits), "StableDiffusionV1");
    const Image sdxl = read_image(fixture_path("watermark-dwtdct/sdxl_watermarked_0.png"), Alpha::Drop);
    EXPECT_EQ(detect_watermark_dwtdct(sdxl, 48).bits, sdxl_watermark_bits());
}

TEST(WatermarkDwtDct, RefusesPicturesBelowTheLibrarysMinimum) {
    const Image small{255, 256, 3, std::vector<uint8_t>(255 * 256 * 3, 100)};
    EXPECT_THROW(embed_watermark_dwtdct(small, sd1_watermark_bits()), Error);
    EXPECT_THROW(detect_watermark_dwtdct(small, 136), Error);
    const Image wide{1024, 64, 3, std::vector<uint8_t>(1024 * 64 * 3, 100)};  // the product counts, not each side
    EXPECT_NO_THROW(embed_watermark_dwtdct(wide, sd1_watermark_bits()));
}
