// tests/models/taesd_test.cpp — TAESD against taesd.py (fixture taesd-tiny): decoding two latents
// (square, and non-square with values beyond the tanh clamp), encoding the fixture's picture, both
// weight containers (safetensors, torch .pth), and the refusal of files that are no TAESD.
#include <gtest/gtest.h>

#include "io/checkpoint.h"
#include "models/taesd/taesd.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;
using difu::test::max_abs_diff;

namespace {

const Checkpoint& ref() {
    static const Checkpoint c = load_checkpoint(fixture_path("taesd-tiny/ref.safetensors"));
    return c;
}

// cases.json: taesd.py's own fp32-vs-fp64 distance is 1.9e-5 on decoder outputs of magnitude 16.6 and
// 4.7e-6 on latents; oneDNN's conv order differs from torch's, so a few times that.
constexpr double kDecodeTolerance = 1e-4, kEncodeTolerance = 3e-5;

}  // namespace

TEST(Taesd, DecoderMatchesTaesdPyOnSquareAndNonSquareLatents) {
    const TaesdModel dec(fixture_path("taesd-tiny/taesd_decoder.safetensors"), TaesdModel::Part::Decoder);
    for (const char* c : {"a", "b"}) {
        const std::string k = std::string("decode.") + c;
        const Tensor out = dec.forward(ref().get(k + ".latent"));
        EXPECT_EQ(out.shape(), ref().get(k + ".output").shape());
        const double err = max_abs_diff(out, ref().get(k + ".output"));
        std::printf("decode %s: max abs error %.3g\n", c, err);
        EXPECT_LT(err, kDecodeTolerance) << c;
    }
}

TEST(Taesd, TheTorchPthDecoderIsTheSameModel) {
    const TaesdModel pth(fixture_path("taesd-tiny/taesd_decoder.pth"), TaesdModel::Part::Decoder);
    EXPECT_LT(max_abs_diff(pth.forward(ref().get("decode.a.latent")), ref().get("decode.a.output")), kDecodeTolerance);
}

TEST(Taesd, EncoderMatchesTaesdPy) {
    const TaesdModel enc(fixture_path("taesd-tiny/taesd_encoder.safetensors"), TaesdModel::Part::Encoder);
    const double err = max_abs_diff(enc.forward(ref().get("encode.image")), ref().get("encode.latent"));
    std::printf("encode: max abs error %.3g\n", err);
    EXPECT_LT(err, kEncodeTolerance);
}

TEST(Taesd, OtherFilesAreRefusedByName) {
    try {
        TaesdModel m(fixture_path("taesd-tiny/taesd_decoder.safetensors"), TaesdModel::Part::Encoder);
        ADD_FAILURE() << "a decoder was read as an encoder";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is not a TAESD encoder"), std::string::npos) << e.what();
    }
    EXPECT_THROW(TaesdModel(fixture_path("sd1-tiny/model.safetensors"), TaesdModel::Part::Decoder), Error);
}
