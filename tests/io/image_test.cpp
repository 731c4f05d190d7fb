// tests/io/image_test.cpp — the image codecs, conversions and webui infotext. Reference values come
// from the fixture (init_image.png == ref vae.encode.image_u8, vae.encode.x), from Pillow 9.4 (the
// SHA-256 of its output bytes, for resizes and decodes through the same libjpeg-turbo / libwebp), and
// from the files in fuzz/corpus/image/ that Pillow wrote.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include "io/png_info.h"
#include "io/sha256.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

std::string corpus(const std::string& name) { return difu::test::source_path("fuzz/corpus/image/" + name); }
std::string temp(const std::string& name) { return difu::test::temp_dir() + "/" + name; }

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

// The picture the Pillow references were computed from (Image.putdata of the same values):
// R = 37x + 11y, G = 5x + 73y, B = x² + y, A = 23x + 41y (mod 256).
Image pattern(int w, int h, int channels) {
    Image img{w, h, channels, {}};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const int px[4] = {(x * 37 + y * 11) % 256, (x * 5 + y * 73) % 256, (x * x + y) % 256, (x * 23 + y * 41) % 256};
            for (int c = 0; c < channels; ++c) img.pixels.push_back(static_cast<uint8_t>(px[c]));
        }
    return img;
}

std::string sha(const Image& img) { return sha256_hex(img.pixels); }

// The message of the difu::Error that f throws ("" when it throws none).
template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

void expect_one_line_error_naming(const std::string& message, const std::string& path) {
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

std::vector<uint8_t> png_chunk(const std::string& type, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> c;
    for (int s = 24; s >= 0; s -= 8) c.push_back(static_cast<uint8_t>(data.size() >> s));
    for (char t : type) c.push_back(static_cast<uint8_t>(t));  // (not insert: GCC 12 warns falsely there)
    c.insert(c.end(), data.begin(), data.end());
    const uint32_t crc = static_cast<uint32_t>(crc32(crc32(0, reinterpret_cast<const Bytef*>(type.data()), 4),
                                                     data.data(), static_cast<uInt>(data.size())));
    for (int s = 24; s >= 0; s -= 8) c.push_back(static_cast<uint8_t>(crc >> s));
    return c;
}

// A PNG whose IHDR says width x height (8-bit RGB), with one IDAT of `idat` bytes.
std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height, const std::vector<uint8_t>& idat) {
    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<uint8_t> ihdr;
    for (uint32_t v : {width, height})
        for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<uint8_t>(v >> s));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    for (const auto& c : {png_chunk("IHDR", ihdr), png_chunk("IDAT", idat), png_chunk("IEND", {})})
        png.insert(png.end(), c.begin(), c.end());
    return png;
}

// A smooth picture, the kind lossy codecs keep well (the fixture picture is high-frequency noise).
Image gradient(int w, int h) {
    Image img{w, h, 3, {}};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            img.pixels.insert(img.pixels.end(), {static_cast<uint8_t>(255 * x / w), static_cast<uint8_t>(255 * y / h), 128});
    return img;
}

double mean_abs_diff(const Image& a, const Image& b) {
    double s = 0;
    for (size_t i = 0; i < a.pixels.size(); ++i) s += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    return s / a.pixels.size();
}

}  // namespace

// ---- decoding against references -----------------------------------------------------------------

TEST(Image, InitImageDecodesToReferenceU8) {
    Image img = read_image(fixture_path("sd1-tiny/init_image.png"));
    Checkpoint ref = load_checkpoint(fixture_path("sd1-tiny/ref.safetensors"));
    const Tensor& u8 = ref.get("vae.encode.image_u8", {128, 128, 3});
    ASSERT_EQ(img.width, 128);
    ASSERT_EQ(img.height, 128);
    ASSERT_EQ(img.channels, 3);
    EXPECT_EQ(std::memcmp(img.pixels.data(), u8.data<uint8_t>(), img.pixels.size()), 0);
}

TEST(Image, ToFloatIsLoadImgArithmeticBitForBit) {
    Image img = read_image(fixture_path("sd1-tiny/init_image.png"));
    Checkpoint ref = load_checkpoint(fixture_path("sd1-tiny/ref.safetensors"));
    const auto x = ref.get("vae.encode.x", {1, 3, 128, 128}).f32();
    const std::vector<float> ours = to_float_chw(img);
    ASSERT_EQ(ours.size(), x.size());
    EXPECT_EQ(std::memcmp(ours.data(), x.data(), x.size() * sizeof(float)), 0);
}

TEST(Image, FromFloatRoundsByDefaultAndTruncatesLikeWebui) {
    const float v[6] = {0.0f, 0.5f, 1.0f, 1.7f, -0.2f, NAN};  // 0.5 * 255 = 127.5: a tie
    const float chw[18] = {v[0], v[1], v[2], v[3], v[4], v[5], 0.999f, 0.001f, 0.25f, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    Image r = from_float_chw(chw, 3, 2, 3);
    Image t = from_float_chw(chw, 3, 2, 3, /*truncate=*/true);
    const uint8_t rounded[6] = {0, 128, 255, 255, 0, 0}, truncated[6] = {0, 127, 255, 255, 0, 0};
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(r.pixels[i * 3], rounded[i]) << i;
        EXPECT_EQ(t.pixels[i * 3], truncated[i]) << i;
    }
    EXPECT_EQ(r.pixels[1], 255);  // G plane: 0.999 * 255 = 254.745
    EXPECT_EQ(t.pixels[1], 254);
    EXPECT_EQ(r.pixels[7], 64);   // 63.75
    EXPECT_EQ(t.pixels[7], 63);
}

TEST(Image, ExpandsPaletteGrayAndSixteenBitLikePillow) {
    Image pal = read_image(corpus("palette_trns.png"));  // 4-bit palette with a tRNS entry
    EXPECT_EQ(pal.channels, 4);
    EXPECT_EQ(sha(pal), "4208141b56fbe18ed3fd0fff15e85283bacb3b60c2def6c7561aa909df97336a");  // Pillow .convert("RGBA")
    EXPECT_EQ(read_image(corpus("palette_trns.png"), Alpha::Drop).channels, 3);
    Image g16 = read_image(corpus("gray16.png"));  // value 4096x + 16y + 5: the high byte is 16x + y/16
    ASSERT_EQ(g16.channels, 3);
    for (int x : {0, 1, 15}) {
        EXPECT_EQ(g16.at(x, 11)[0], (4096 * x + 16 * 11 + 5) >> 8);
        EXPECT_EQ(g16.at(x, 11)[2], g16.at(x, 11)[0]);
    }
    Image g1 = read_image(corpus("gray1.png"));
    EXPECT_EQ(g1.width * g1.height * g1.channels, 10 * 3 * 3);
    EXPECT_EQ(sha(read_image(corpus("gray_alpha.png"))),
              "eaf0d3d000309d2ee06f486be736a91d1964aaceeaad1f5be9f20c42bec4e7af");  // Pillow LA -> RGBA
    EXPECT_EQ(read_image(corpus("interlaced.png")).pixels, pattern(16, 12, 3).pixels);  // Adam7
}

TEST(Image, DecodesJpegAndWebpAsPillowDoes) {
    EXPECT_EQ(sha(read_image(corpus("progressive.jpg"))), "f47ea7977c38e4e54ece97f5d9905be9f7674bc1dd148840f36b63b5edae5804");
    Image gray = read_image(corpus("gray.jpg"));
    EXPECT_EQ(gray.channels, 3);
    EXPECT_EQ(sha(gray), "d77405969edcf2c1cf1830b4ac90575f200a8cf6c3271a2025e3931a44e7fc88");  // .convert("RGB")
    EXPECT_EQ(sha(read_image(corpus("lossy.webp"))), "043c65a4e0ac416aee57a684cad9c3d1433cc37dd255e8ca652a6a0931aea3b2");
    Image alpha = read_image(corpus("lossless_alpha.webp"));
    EXPECT_EQ(alpha.channels, 4);
    EXPECT_EQ(sha(alpha), "9c1e80feabe02ec3b3fb3813065067490fcae511c7ad74583df24eaf60a7d799");
}

TEST(Image, DetectsFormatByContentNotExtension) {
    const std::string path = temp("actually_a_jpeg.png");
    std::filesystem::copy_file(corpus("progressive.jpg"), path, std::filesystem::copy_options::overwrite_existing);
    EXPECT_EQ(read_image(path).pixels, read_image(corpus("progressive.jpg")).pixels);
    const auto bytes = file_bytes(corpus("lossy.webp"));
    EXPECT_EQ(decode_image("request.init_images[0]", bytes).width, 16);
}

// ---- writing --------------------------------------------------------------------------------------

TEST(Image, PngRoundTripsPixelsAndText) {
    const TextChunks text = {{"parameters", "a caf\xc3\xa9, night\nNegative prompt: blurry\nSteps: 20"},
                             {"prompt_ja", "\xe7\x8c\xab\xe3\x81\xa8\xe7\x8a\xac \xf0\x9f\x90\x88"}};  // 猫と犬 🐈
    for (int channels : {3, 4}) {
        const Image img = pattern(37, 21, channels);
        const std::string path = temp("roundtrip" + std::to_string(channels) + ".png");
        write_png(path, img, text);
        Image back = read_image(path);
        EXPECT_EQ(back.channels, channels);
        EXPECT_EQ(back.pixels, img.pixels);
        EXPECT_EQ(read_png_text(path), text);
        EXPECT_EQ(read_image(path, Alpha::Drop).pixels, pattern(37, 21, 3).pixels);
    }
}

TEST(Image, PngTextChunkTypesAreThosePillowWrites) {
    const auto png = encode_png(pattern(4, 4, 3), {{"parameters", "caf\xc3\xa9"}, {"ja", "\xe7\x8c\xab"}});
    const std::string s(png.begin(), png.end());
    // tEXt: key \0 Latin-1 bytes; iTXt: key \0 flag 0, method 0, empty language \0, empty translated key \0, UTF-8.
    EXPECT_NE(s.find(std::string("tEXtparameters\0caf\xe9", 19)), std::string::npos);
    EXPECT_NE(s.find(std::string("iTXtja\0\0\0\0\0\xe7\x8c\xab", 14)), std::string::npos);
    EXPECT_LT(s.find("tEXt"), s.find("IDAT"));  // before the image data
}

TEST(Image, ReadsTextChunksPillowWrote) {
    const TextChunks t = read_png_text(corpus("pillow_text.png"));  // tEXt, iTXt, zTXt, compressed iTXt
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[0].first, "parameters");
    EXPECT_EQ(t[0].second.substr(0, 16), "a caf\xc3\xa9 at night");
    EXPECT_EQ(t[1].second, "\xe7\x8c\xab\xe3\x81\xa8\xe7\x8a\xac");
    EXPECT_EQ(t[2].second.size(), 3 * std::string("compressed latin-1 \xc3\xa9").size());
    EXPECT_EQ(t[3].second.size(), 40u * 3);
    EXPECT_EQ(read_image_text(corpus("pillow_text.png")), t);
}

TEST(Image, JpegRoundTripsApproximatelyWithExifComment) {
    const Image img = gradient(64, 48);
    const std::string comment = "a cat\nNegative prompt: \xe7\x8c\xab\nSteps: 20, Seed: 1 \xf0\x9f\x90\x88";
    const std::string path = temp("roundtrip.jpg");
    write_jpeg(path, img, 95, comment);
    Image back = read_image(path);
    ASSERT_EQ(back.channels, 3);
    ASSERT_EQ(back.pixels.size(), img.pixels.size());
    EXPECT_LT(mean_abs_diff(img, back), 1.5);  // q95, 4:2:0 chroma
    EXPECT_EQ(read_image_text(path), (TextChunks{{"parameters", comment}}));
    EXPECT_EQ(read_image(path).pixels, back.pixels);  // deterministic
    Image rgba_back = decode_image("x.jpg", encode_jpeg(pattern(8, 8, 4)));
    EXPECT_EQ(rgba_back.channels, 3);  // alpha dropped, as webui's convert("RGB") before saving
}

TEST(Image, WebpRoundTripsLossyApproximatelyAndLosslessExactly) {
    const Image img = gradient(64, 48);
    const std::string path = temp("roundtrip.webp");
    write_webp(path, img, 90, "Steps: 20, Sampler: Euler a, CFG scale: 7");
    Image back = read_image(path);
    ASSERT_EQ(back.pixels.size(), img.pixels.size());
    EXPECT_LT(mean_abs_diff(img, back), 2.0);
    EXPECT_EQ(read_image_text(path), (TextChunks{{"parameters", "Steps: 20, Sampler: Euler a, CFG scale: 7"}}));
    Image translucent = pattern(20, 10, 4);
    for (size_t i = 3; i < translucent.pixels.size(); i += 4)  // libwebp may change the RGB of alpha-0 pixels
        translucent.pixels[i] = std::max<uint8_t>(translucent.pixels[i], 1);
    Image back_rgba = decode_image("x.webp", encode_webp(translucent, 90, "", /*lossless=*/true));
    EXPECT_EQ(back_rgba.channels, 4);
    EXPECT_EQ(back_rgba.pixels, translucent.pixels);
    EXPECT_EQ(decode_image("x.webp", encode_webp(pattern(20, 10, 3), 100, "c", true)).pixels, pattern(20, 10, 3).pixels);
}

TEST(Image, EncodersRefuseMalformedImagesNamingTheFile) {
    Image bad = pattern(4, 4, 3);
    bad.pixels.pop_back();
    const std::string path = temp("bad.png");
    expect_one_line_error_naming(error_of([&] { write_png(path, bad); }), path);
    expect_one_line_error_naming(error_of([&] { write_png(path, pattern(2, 2, 3), {{"", "x"}}); }), path);
    EXPECT_NE(error_of([&] { encode_png(pattern(2, 2, 3), {{"k", std::string("a\0b", 3)}}); }), "");
    EXPECT_NE(error_of([&] { encode_jpeg(pattern(2, 2, 3), 90, std::string(40000, 'x')); }), "");  // > one APP1
}

// ---- hostile input ---------------------------------------------------------------------------------

TEST(ImageHostile, EveryBrokenFileIsOneLineErrorNamingIt) {
    const auto init = file_bytes(fixture_path("sd1-tiny/init_image.png"));
    const auto jpeg = file_bytes(corpus("progressive.jpg"));
    std::mt19937 rng(7);
    std::vector<uint8_t> noise(5000);
    for (auto& b : noise) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> bad_crc = init;
    bad_crc[100] ^= 0xFF;  // inside the first IDAT
    std::vector<uint8_t> png_noise(init.begin(), init.begin() + 8);
    png_noise.insert(png_noise.end(), noise.begin(), noise.end());
    const std::vector<std::pair<std::string, std::vector<uint8_t>>> cases = {
        {"truncated.png", {init.begin(), init.begin() + init.size() / 2}},
        {"signature_only.png", {init.begin(), init.begin() + 8}},
        {"huge.png", png_claiming(100000, 100000, {0x78, 0x9c})},
        {"over_64mpixel.png", png_claiming(16384, 8192, {0x78, 0x9c})},
        {"zero_width.png", png_claiming(0, 5, {0x78, 0x9c})},
        {"bad_crc.png", bad_crc},
        {"noise_after_signature.png", png_noise},
        {"random.bin", noise},
        {"half.jpg", {jpeg.begin(), jpeg.begin() + jpeg.size() / 2}},
        {"header_only.jpg", {jpeg.begin(), jpeg.begin() + 20}},
        {"empty.png", {}},
        {"text.png", {'h', 'e', 'l', 'l', 'o', '\n'}},
        {"truncated.webp", [] { auto w = file_bytes(corpus("lossy.webp")); w.resize(w.size() - 30); return w; }()},
    };
    for (const auto& [name, bytes] : cases) {
        const std::string path = temp(name);
        write_bytes(path, bytes);
        for (Alpha a : {Alpha::Keep, Alpha::Drop})
            expect_one_line_error_naming(error_of([&] { read_image(path, a); }), path);
    }
    EXPECT_NE(error_of([&] { read_image(temp("huge.png")); }).find("larger than difu accepts"), std::string::npos);
    EXPECT_NE(error_of([&] { read_image(temp("empty.png")); }).find("empty"), std::string::npos);
    EXPECT_NE(error_of([&] { read_image(temp("text.png")); }).find("not a PNG, JPEG or WebP image: looks like text"),
              std::string::npos);
    for (const std::string& path : {temp("missing.png"), difu::test::temp_dir()})
        expect_one_line_error_naming(error_of([&] { read_image(path); }), path);
}

TEST(ImageHostile, CorpusFilesOfUnsupportedKindsSaySo) {
    EXPECT_NE(error_of([] { read_image(corpus("cmyk.jpg")); }).find("CMYK"), std::string::npos);
    EXPECT_NE(error_of([] { read_image(corpus("animated.webp")); }).find("animated"), std::string::npos);
    for (const char* name : {"truncated.png", "truncated.jpg", "not_an_image.png"})
        expect_one_line_error_naming(error_of([&] { read_image(corpus(name)); }), corpus(name));
}

TEST(ImageHostile, BrokenTextChunksAreErrorsAndMissingExifIsNoText) {
    auto with_text = encode_png(pattern(2, 2, 3), {{"parameters", "Steps: 20"}});
    const size_t at = std::string(with_text.begin(), with_text.end()).find("Steps");
    with_text[at] = 'X';  // breaks the tEXt CRC
    EXPECT_NE(error_of([&] { decode_png_text("t.png", with_text); }).find("bad CRC"), std::string::npos);
    const auto init = file_bytes(fixture_path("sd1-tiny/init_image.png"));
    EXPECT_NE(error_of([&] { decode_png_text("t.png", {init.data(), 1000}); }).find("truncated"), std::string::npos);
    EXPECT_TRUE(read_image_text(corpus("progressive.jpg")).empty());
    EXPECT_TRUE(read_image_text(corpus("lossy.webp")).empty());
}

// ---- geometry ---------------------------------------------------------------------------------------

// References: hashlib.sha256(im.resize((w, h), Image.LANCZOS).tobytes()) with Pillow 9.4.
TEST(Image, ResizeMatchesPillowLanczosByteForByte) {
    const Image init = read_image(fixture_path("sd1-tiny/init_image.png"));
    EXPECT_EQ(sha(resize_image(init, 77, 50)), "af16f4a77a900d7133476f026cb83be65a80ca88180d9092209ff791cfb05360");
    EXPECT_EQ(sha(resize_image(init, 200, 300)), "85197c9f8fd90d5b33a733c39af609d5c10b90fca59886abb5ef48fc5df72724");
    EXPECT_EQ(sha(resize_image(pattern(31, 23, 3), 13, 40)), "ea87b36cda4d3f7f5bed6d6574666a4e01539ee2e733aed45ee5e280f704e3a8");
    EXPECT_EQ(sha(resize_image(pattern(31, 23, 3), 31, 7)), "df59ef6fbd2e4006e2f5646c1e31563db9569d4ca7611266caca7655b248a562");
    EXPECT_EQ(sha(resize_image(pattern(31, 23, 4), 13, 40)), "1b97bd2e4a1e35e2ec55c39a38574ea31391cf22c90a35658031003fc521c163");
    EXPECT_EQ(resize_image(pattern(31, 23, 4), 31, 23).pixels, pattern(31, 23, 4).pixels);
}

// References: webui's images.resize_image(1, im, w, h) body run with Pillow 9.4 (LANCZOS, paste at the centre).
TEST(Image, ResizeAndCropMatchesWebuiCropAndResize) {
    const Image init = read_image(fixture_path("sd1-tiny/init_image.png"));
    EXPECT_EQ(sha(resize_and_crop(init, 96, 64)), "e340c024f1e77653eb7ba4372b3ce8557ad345d6c92df8a852142c8051016c8b");
    EXPECT_EQ(sha(resize_and_crop(pattern(31, 23, 3), 20, 20)), "cb7ab4dfc3700f8085baf1c6cc1c7384cedb214c594211aeb8a6be7606a72728");
    EXPECT_EQ(sha(resize_and_crop(pattern(31, 23, 3), 40, 10)), "b60e80891f030369842da7ca8a6adfbc3297660571ca3e9f1a3350703d45fce0");
}

TEST(Image, FlattenMatchesWebuiFlatten) {
    EXPECT_EQ(sha(flatten_alpha(pattern(31, 23, 4))), "8381c4a1ac2d9ccf59fbfe29365ce494c2c4d6e097f1e87561e12a89f422547f");
    EXPECT_EQ(sha(flatten_alpha(pattern(31, 23, 4), 10, 20, 30)),
              "60b9b6179678680a1eb6f626e38e1a8c55cc8f5ac551cf5472e5d897182310d5");
}

TEST(Image, CropToAspectKeepsTheCentre) {
    const Image img = pattern(30, 10, 3);
    const Image c = crop_to_aspect(img, 512, 512);  // 10x10 out of the middle
    ASSERT_EQ(c.width, 10);
    ASSERT_EQ(c.height, 10);
    EXPECT_EQ(std::memcmp(c.at(0, 0), img.at(10, 0), 3), 0);
    const Image tall = crop_to_aspect(img, 3, 1);  // already 3:1
    EXPECT_EQ(tall.pixels, img.pixels);
    EXPECT_EQ(crop_to_aspect(pattern(10, 30, 3), 2, 1).height, 5);
}

// ---- infotext ------------------------------------------------------------------------------------------

TEST(PngInfo, FormatsAsWebuiCreateInfotext) {
    GenerationInfo g;
    g.prompt = "a photo of a cat";
    g.negative_prompt = "blurry";
    g.steps = 20, g.sampler = "DPM++ 2M", g.schedule_type = "Karras", g.cfg_scale = 7, g.seed = 42;
    g.model_hash = "2b80e894a9", g.model_name = "model", g.denoising_strength = 0.75, g.clip_skip = 2;
    g.rng = "CPU", g.version = "difu 0.1.0";
    EXPECT_EQ(format_infotext(g),
              "a photo of a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, "
              "CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 2b80e894a9, Model: model, Denoising strength: 0.75, "
              "Clip skip: 2, RNG: CPU, Version: difu 0.1.0");
    GenerationInfo plain;
    plain.prompt = "cat";
    plain.cfg_scale = 7.5;
    plain.seed = 3390128873;
    plain.rng = "GPU";  // webui's default: not written
    plain.extra = {{"Lora hashes", "cat: abc, dog: def"}, {"Tiling", "Tiling"}};
    EXPECT_EQ(format_infotext(plain), "cat\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 3390128873, Size: 512x512, "
                                      "Lora hashes: \"cat: abc, dog: def\", Tiling");
}

TEST(PngInfo, QuotesValuesAsWebuiQuote) {
    const std::pair<std::string, std::string> table[] = {
        {"Euler a", "Euler a"},
        {"say \"hi\"", "say \"hi\""},  // a quote alone does not trigger quoting
        {"a, b", "\"a, b\""},
        {"x: y", "\"x: y\""},
        {"two\nlines", "\"two\\nlines\""},
        {"a, \"q\" \\ b", "\"a, \\\"q\\\" \\\\ b\""},
        {"\xe7\x8c\xab, \xc3\xa9", "\"\xe7\x8c\xab, \xc3\xa9\""},  // ensure_ascii=False
        {"tab\t,\x01", "\"tab\\t,\\u0001\""},
    };
    for (const auto& [raw, quoted] : table) {
        EXPECT_EQ(quote_infotext_value(raw), quoted);
        EXPECT_EQ(unquote_infotext_value(quoted), raw);
    }
    for (const char* not_json : {"\"a", "\"a\" \"b\"", "\"bad \\x escape\"", "\"\""})
        EXPECT_EQ(unquote_infotext_value(not_json), not_json == std::string("\"\"") ? "" : not_json);
}

TEST(PngInfo, ParsesWebuiDocstringExample) {
    const GenerationInfo g = parse_infotext(
        "girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy makeup, by Alphonse "
        "Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), detailed, intricate\n"
        "Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured, poorly drawn face, "
        "mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), messy drawing\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b");
    EXPECT_EQ(g.prompt.substr(0, 30), "girl with an artist's beret, d");
    EXPECT_EQ(g.negative_prompt.substr(0, 10), "ugly, fat,");
    EXPECT_EQ(g.steps, 20);
    EXPECT_EQ(g.sampler, "Euler a");
    EXPECT_EQ(g.cfg_scale, 7.0);
    EXPECT_EQ(g.seed, 965400086);
    EXPECT_EQ(g.width, 512);
    EXPECT_EQ(g.model_hash, "45dee52b");
    EXPECT_EQ(g.clip_skip, 1);
    EXPECT_TRUE(g.extra.empty());
}

TEST(PngInfo, ParseFollowsWebuiEdgeCases) {
    // Fewer than three pairs on the last line: it is prompt text.
    GenerationInfo g = parse_infotext("a cat\nstyle: photo, light: soft");
    EXPECT_EQ(g.prompt, "a cat\nstyle: photo, light: soft");
    // Multi-line prompt and negative prompt, lines stripped; quoted and unknown values kept in order.
    g = parse_infotext("  line one \nline two\nNegative prompt: bad\nworse\n"
                       "Steps: 30, Sampler: DDIM, CFG scale: 4.5, Seed: -1, Size: 640x384, Empty: , "
                       "Lora hashes: \"a: 1, b: 2\", Hires upscale: 2, Steps: 31");
    EXPECT_EQ(g.prompt, "line one\nline two");
    EXPECT_EQ(g.negative_prompt, "bad\nworse");
    EXPECT_EQ(g.steps, 31);  // a repeated key: the last value wins
    EXPECT_EQ(g.width, 640);
    EXPECT_EQ(g.height, 384);
    EXPECT_EQ(g.extra, (std::vector<std::pair<std::string, std::string>>{{"Lora hashes", "a: 1, b: 2"},
                                                                        {"Hires upscale", "2"}}));
    EXPECT_NE(error_of([] { parse_infotext("p\nSteps: many, Sampler: x, Seed: 1"); }).find("Steps"), std::string::npos);
    EXPECT_NE(error_of([] { parse_infotext("p\nSteps: 1, Size: big, Seed: 1"); }).find("Size"), std::string::npos);
    // A megabyte without structure parses (the scanner is linear; a backtracking regex would not finish).
    EXPECT_EQ(parse_infotext(std::string(1 << 20, 'a')).prompt.size(), size_t{1} << 20);
    EXPECT_EQ(parse_infotext(std::string(1 << 20, ':')).prompt.size(), size_t{1} << 20);
}

TEST(PngInfo, FormatParseRoundTrips) {
    GenerationInfo a;
    a.prompt = "masterpiece, (cat:1.2)\n\xe7\x8c\xab\xe3\x81\xa8\xe7\x8a\xac";
    a.negative_prompt = "lowres, \"bad\"";
    a.steps = 28, a.sampler = "DPM++ SDE", a.schedule_type = "Automatic", a.cfg_scale = 6.5, a.seed = 4294967295;
    a.width = 768, a.height = 512, a.model_hash = "abcdef0123", a.model_name = "sd: v1,5";
    a.denoising_strength = 0.3, a.clip_skip = 2, a.rng = "NV", a.version = "difu 0.1.0";
    a.extra = {{"Lora hashes", "a: 1, \"b\": 2"}, {"ENSD", "31337"}, {"Note", "line\nbreak"}};
    EXPECT_EQ(parse_infotext(format_infotext(a)), a);
    GenerationInfo b;
    b.prompt = "";  // no prompt, no negative prompt
    EXPECT_EQ(format_infotext(b).rfind("Steps: 20", 0), 0u);
    EXPECT_EQ(parse_infotext(format_infotext(b)), b);
}

TEST(PngInfo, SurvivesAPngRoundTrip) {
    GenerationInfo g;
    g.prompt = "\xe7\x8c\xab, a cat";
    g.model_hash = "2b80e894a9";
    const std::string path = temp("infotext.png");
    write_png(path, pattern(8, 8, 3), {{"parameters", format_infotext(g)}});
    const TextChunks t = read_png_text(path);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(parse_infotext(t[0].second), g);
}

// ---- SHA-256 and the model hash ------------------------------------------------------------------------

TEST(PngInfoSha256, KnownVectors) {
    auto hex = [](const std::string& s) { return sha256_hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); };
    EXPECT_EQ(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    for (bool hw : {false, true}) {
        Sha256 h(hw);
        const std::string chunk(1000, 'a');
        for (int i = 0; i < 1000; ++i) h.update({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
        EXPECT_EQ(to_hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") << hw;
    }
}

TEST(PngInfoSha256, HardwarePathEqualsPortableOnEveryLengthAndSplit) {
    std::mt19937 rng(1);
    std::vector<uint8_t> data(1000);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    for (size_t n = 0; n <= 300; n += 7) {
        Sha256 portable(false), fast(true), split(true);
        portable.update({data.data(), n});
        fast.update({data.data(), n});
        split.update({data.data(), n / 3});
        split.update({data.data() + n / 3, n - n / 3});
        const auto want = portable.finish();
        EXPECT_EQ(fast.finish(), want) << n;
        EXPECT_EQ(split.finish(), want) << n;
    }
}

TEST(PngInfoSha256, ModelHashOfFixtureIsSha256Prefix) {
    const std::string path = fixture_path("sd1-tiny/model.safetensors");
    EXPECT_EQ(sha256_file_hex(path), "2b80e894a977a1867de2ff4e288a82610a7b042e9597078286e0cc57af374133");  // cases.json
    EXPECT_EQ(model_hash(path), "2b80e894a9");
    expect_one_line_error_naming(error_of([] { model_hash("/nonexistent/model.safetensors"); }),
                                 "/nonexistent/model.safetensors");
}
