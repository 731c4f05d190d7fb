// tests/pipeline/external_vae_test.cpp — a VAE file laid over the checkpoint's VAE (webui's sd_vae):
// bare or first_stage_model.-prefixed keys, the infotext's VAE / VAE hash, and files that do not fit.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "io/external_vae.h"
#include "io/png_info.h"
#include "io/safetensors_writer.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

const std::string kModel = fixture_path("sd1-tiny/model.safetensors");

// sd1-tiny's own VAE tensors, renamed (and `edit` applied to each).
std::string write_vae(const std::string& name, bool prefixed, const std::function<void(const std::string&, Tensor&)>& edit = nullptr) {
    const Checkpoint ck = load_checkpoint(kModel);
    std::vector<NamedTensor> out;
    for (const auto& [key, t] : ck.tensors) {
        if (key.rfind("first_stage_model.", 0) != 0) continue;
        Tensor copy = t.to(DType::F32);
        const std::string rest = key.substr(std::string("first_stage_model.").size());
        if (edit) edit(rest, copy);
        out.push_back({prefixed ? key : rest, copy});
    }
    out.push_back({"loss.logvar", Tensor::empty({1})});  // training leftovers are ignored
    const std::string path = test::temp_dir() + "/" + name;
    write_safetensors(path, out);
    return path;
}

GenerateRequest request() {
    GenerateRequest r;
    r.prompt = "a boat";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 12;
    return r;
}

}  // namespace

TEST(ExternalVae, ItsOwnVaeGivesTheSameImageAndTheInfotextNamesIt) {
    DiffusionPipeline pipe(kModel, Precision::FP32);
    const auto plain = pipe.generate(request()).images.at(0).image.pixels;
    for (bool prefixed : {false, true}) {
        const std::string vae = write_vae(prefixed ? "own-prefixed.vae.safetensors" : "own.vae.safetensors", prefixed);
        pipe.set_vae(vae);
        const GenerateResult g = pipe.generate(request());
        EXPECT_EQ(g.images.at(0).image.pixels, plain) << vae;
        EXPECT_NE(g.images[0].infotext.find("VAE: " + std::filesystem::path(vae).filename().string()), std::string::npos)
            << g.images[0].infotext;
        EXPECT_NE(g.images[0].infotext.find("VAE hash: "), std::string::npos);
    }
    const std::string brighter = write_vae("brighter.vae.safetensors", false, [](const std::string& name, Tensor& t) {
        if (name == "decoder.conv_out.bias")
            for (float& v : t.f32_mut()) v += 0.25f;
    });
    pipe.set_vae(brighter);
    EXPECT_NE(pipe.generate(request()).images.at(0).image.pixels, plain);
    pipe.set_vae("");
    EXPECT_EQ(pipe.generate(request()).images.at(0).image.pixels, plain);
}

TEST(ExternalVae, FilesThatDoNotFitAreNamed) {
    DiffusionPipeline pipe(kModel, Precision::FP32);
    const std::string narrow = write_vae("narrow.vae.safetensors", false, [](const std::string& name, Tensor& t) {
        if (name == "decoder.conv_in.weight") t = Tensor::empty({t.dim(0) / 2, t.dim(1), t.dim(2), t.dim(3)});
    });
    try {
        pipe.set_vae(narrow);
        ADD_FAILURE() << "a mis-shaped VAE was taken";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("decoder.conv_in.weight"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pipe.set_vae(fixture_path("sd1-tiny-lora/lora_kohya.safetensors")), Error);
    EXPECT_TRUE(pipe.vae_path().empty());
}
