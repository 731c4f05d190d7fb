// tests/cli/cli_test.cpp — the difu executable as a user runs it: subcommands, JSON shapes, and
// one-line errors with exit code 2 for bad files (truncated, offsets past the end, foreign pickle
// global, not a checkpoint).
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "test_support.h"

using namespace difu::test;

namespace {

struct CliRun {
    int status;
    std::string output;
};
CliRun run_difu(const std::string& args) {
    CliRun r;
    r.status = run_command(difu_binary() + " " + args, &r.output);
    return r;
}
void write_file(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
std::string read_prefix(const std::string& path, size_t n) {
    std::ifstream in(path, std::ios::binary);
    std::string s(n, '\0');
    in.read(s.data(), static_cast<std::streamsize>(n));
    s.resize(static_cast<size_t>(in.gcount()));
    return s;
}
// A bad-input failure: exit 2, exactly one line, "difu: error: <file>: ...".
void expect_one_line_error(const CliRun& r, const std::string& file, const std::string& problem) {
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.rfind("difu: error: " + file, 0), 0u) << r.output;
    EXPECT_NE(r.output.find(problem), std::string::npos) << r.output;
}

}  // namespace

TEST(Cli, HelpListsSubcommands) {
    CliRun r = run_difu("--help");
    EXPECT_EQ(r.status, 0);
    for (const char* sub : {"inspect", "tokenize", "make-random", "bench"}) EXPECT_NE(r.output.find(sub), std::string::npos) << sub;
    EXPECT_EQ(run_difu("").status, 2);  // a subcommand is required
}

TEST(Cli, InspectsEveryFixtureFormat) {
    for (const char* f : {"model.safetensors", "model-fp16.safetensors", "model.ckpt"}) {
        CliRun r = run_difu("inspect --json " + fixture_path(std::string("sd1-tiny/") + f) + " 2>/dev/null");
        ASSERT_EQ(r.status, 0) << r.output;
        auto j = nlohmann::json::parse(r.output);
        EXPECT_EQ(j["family"], "SD 1.x");
        EXPECT_EQ(j["tensors"], 555);
        EXPECT_EQ(j["keys"]["used"], 555);
        EXPECT_TRUE(j["keys"]["unknown"].empty());
        EXPECT_EQ(j["config"]["unet"]["model_channels"], 32);
        EXPECT_EQ(j["config"]["text_encoder"]["layers"], 2);
    }
    CliRun sd2 = run_difu("inspect " + fixture_path("sd2-tiny-v/model.safetensors"));
    EXPECT_EQ(sd2.status, 0);
    EXPECT_NE(sd2.output.find("SD 2.x"), std::string::npos) << sd2.output;
    EXPECT_NE(sd2.output.find("OpenCLIP"), std::string::npos) << sd2.output;
    CliRun sdxl = run_difu("inspect --json " + fixture_path("sdxl-tiny/model.safetensors"));
    ASSERT_EQ(sdxl.status, 0) << sdxl.output;
    auto x = nlohmann::json::parse(sdxl.output);
    EXPECT_EQ(x["family"], "SDXL");
    EXPECT_EQ(x["keys"]["used"], 893);
    EXPECT_TRUE(x["keys"]["missing"].empty());
}

TEST(Cli, TokenizeJsonHasTheDocumentedShape) {
    CliRun r = run_difu("tokenize --json 'a (photograph:1.2) of an astronaut'");
    ASSERT_EQ(r.status, 0) << r.output;
    auto j = nlohmann::json::parse(r.output);
    ASSERT_EQ(j.size(), 2u);
    ASSERT_EQ(j["chunks"].size(), 1u);
    EXPECT_EQ(j["chunks"][0]["ids"].size(), 77u);
    EXPECT_EQ(j["chunks"][0]["weights"].size(), 77u);
    EXPECT_EQ(j["chunks"][0]["ids"][0], 49406);
    EXPECT_EQ(j["chunks"][0]["ids"][1], 320);    // "a"
    EXPECT_EQ(j["chunks"][0]["ids"][2], 8853);   // "photograph"
    EXPECT_NEAR(j["chunks"][0]["weights"][2].get<double>(), 1.2, 1e-6);
    EXPECT_EQ(j["tokens"], 5);
}

TEST(Cli, BadFilesGiveOneLineErrors) {
    const std::string dir = temp_dir();
    // Truncated: the first half of the fixture.
    const std::string full = fixture_path("sd1-tiny/model.safetensors");
    const std::string cut = dir + "/cut.safetensors";
    write_file(cut, read_prefix(full, 1 << 20));
    expect_one_line_error(run_difu("inspect " + cut), cut, "truncated download?");
    // A header whose offsets run past the end of the file.
    const std::string header = R"({"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}})";
    std::string bytes(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, 8);
    const std::string past = dir + "/past.safetensors";
    write_file(past, bytes + header + std::string(16, '\0'));
    expect_one_line_error(run_difu("inspect " + past), past, "ends at byte 4000");
    // A torch.save zip whose data.pkl calls os.system (fuzz seed, made by tools/make_ckpt_fuzz_corpus.py).
    const std::string evil = source_path("fuzz/corpus/ckpt/foreign_global.ckpt");
    expect_one_line_error(run_difu("inspect " + evil), evil, "'posix.system'");  // os.system pickles as posix
    // Not a checkpoint at all.
    const std::string text = dir + "/notes.txt";
    write_file(text, "these are not the weights you are looking for\n");
    expect_one_line_error(run_difu("inspect " + text), text, "not a checkpoint");
    expect_one_line_error(run_difu("inspect " + dir + "/missing.safetensors"), dir + "/missing.safetensors", "cannot open");
}

TEST(Cli, ConvertWritesFoldersAndFilesAndRefusesWhatWouldNotLoad) {
    const std::string dir = temp_dir() + "/cli-convert";
    std::filesystem::remove_all(dir);
    CliRun r = run_difu("convert " + fixture_path("sdxl-tiny/model.safetensors") + " " + dir + "/xl --dtype f16");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("SDXL written as a diffusers folder (F16)"), std::string::npos) << r.output;
    EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/xl/tokenizer_2/vocab.json"));
    r = run_difu("inspect " + dir + "/xl");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("SDXL"), std::string::npos) << r.output;
    r = run_difu("convert " + dir + "/xl " + dir + "/xl.safetensors");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("single file"), std::string::npos) << r.output;
    ASSERT_EQ(run_difu("convert " + fixture_path("sd2-tiny-v/model.safetensors") + " " + dir + "/sd2").status, 0);
    for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
             {dir + "/sd2 " + dir + "/sd2.safetensors", "without its last 1 layer"},
             {dir + "/xl " + dir + "/xl2 --dtype f8", "--dtype must be"},
             {fixture_path("sdxl-tiny/model.safetensors") + " " + dir + "/xl", "already holds a diffusers model"}}) {
        r = run_difu("convert " + args);
        EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
        EXPECT_NE(r.output.find(expect), std::string::npos) << args << "\n" << r.output;
    }
}

TEST(Cli, InspectDescribesLorasAndEmbeddings) {
    CliRun r = run_difu("inspect --json " + fixture_path("sd1-tiny-lora/lora_peft.safetensors"));
    ASSERT_EQ(r.status, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["kind"], "lora");
    EXPECT_EQ(j["format"], "peft");
    EXPECT_EQ(j["modules"], 96);
    EXPECT_EQ(j["components"]["unet"], 84);
    EXPECT_EQ(j["components"]["lora_te1"], 12);
    // as a model it is named for what it is
    r = run_difu("generate -m " + fixture_path("sd1-tiny-lora/lora_kohya.safetensors") + " -p x -o /dev/null");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("this is a LoRA"), std::string::npos) << r.output;
}
