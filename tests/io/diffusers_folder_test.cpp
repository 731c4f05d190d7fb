// tests/io/diffusers_folder_test.cpp — a diffusers folder (fixture sd1-tiny-diffusers, written by
// diffusers' own conversion from sd1-tiny) read as the single file it came from: every row of the
// fixture's mapping.tsv lands on its LDM name with the same bytes as sd1-tiny/model-fp16.safetensors.
#include <gtest/gtest.h>

#include <fstream>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "io/checkpoint.h"
#include "io/diffusers_folder.h"
#include "io/model_config.h"
#include "pipeline/pipeline.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

TEST(DiffusersFolder, EveryMappedTensorLandsOnItsSingleFileName) {
    const std::string folder = fixture_path("sd1-tiny-diffusers");
    ASSERT_TRUE(is_diffusers_folder(folder));
    Checkpoint ck = load_checkpoint(folder);
    Checkpoint single = load_checkpoint(fixture_path("sd1-tiny/model-fp16.safetensors"));
    std::ifstream tsv(fixture_path("sd1-tiny-diffusers/mapping.tsv"));
    std::string line;
    std::getline(tsv, line);  // header
    int rows = 0;
    while (std::getline(tsv, line)) {
        std::istringstream fields(line);
        std::string component, diffusers_name, ldm_name;
        std::getline(fields, component, '\t');
        std::getline(fields, diffusers_name, '\t');
        std::getline(fields, ldm_name, '\t');
        ASSERT_TRUE(ck.has(ldm_name)) << component << " " << diffusers_name << " -> " << ldm_name;
        const Tensor& ours = ck.get(ldm_name);
        const Tensor& theirs = single.get(ldm_name);
        ASSERT_EQ(ours.shape(), theirs.shape()) << ldm_name;
        ASSERT_EQ(ours.dtype(), theirs.dtype()) << ldm_name;
        Tensor a = ours.contiguous(), b = theirs.contiguous();
        ASSERT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << ldm_name;
        ++rows;
    }
    EXPECT_EQ(rows, 541);
    EXPECT_EQ(static_cast<int>(ck.tensors.size()), rows);
    ModelConfig cfg = detect_model(ck);
    EXPECT_EQ(cfg.family, ModelFamily::SD1);
    KeyReport keys = check_keys(ck, cfg);
    EXPECT_TRUE(keys.complete()) << (keys.missing.empty() ? keys.wrong_shape.front() : keys.missing.front());
    EXPECT_TRUE(keys.unknown.empty());
}

TEST(DiffusersFolder, GeneratesTheSameImageAsTheSingleFile) {
    GenerateRequest r;
    r.prompt = "a cat";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 4;
    r.sampler = "euler";
    DiffusionPipeline folder(fixture_path("sd1-tiny-diffusers"), Precision::FP32, ModelResidency::OneAtATime);
    DiffusionPipeline single(fixture_path("sd1-tiny/model-fp16.safetensors"), Precision::FP32, ModelResidency::OneAtATime);
    EXPECT_EQ(folder.generate(r).images[0].image.pixels, single.generate(r).images[0].image.pixels);
    EXPECT_EQ(folder.model_hash().size(), 10u);
}

TEST(DiffusersFolder, OtherPipelinesAreNamedAndRefused) {
    const std::string dir = test::temp_dir() + "/flux-folder";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/model_index.json") << R"({"_class_name": "FluxPipeline"})";
    try {
        load_checkpoint(dir);
        ADD_FAILURE() << "a Flux diffusers folder was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("FluxPipeline"), std::string::npos) << e.what();
    }
}
