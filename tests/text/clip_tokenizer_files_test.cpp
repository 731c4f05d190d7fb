// tests/text/clip_tokenizer_files_test.cpp — the CLIPTokenizer folder difu writes equals the one
// diffusers' conversion put in fixture sd1-tiny-diffusers (vocab, merges, special tokens, config).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"
#include "text/clip_tokenizer_files.h"

using namespace difu;
using Json = nlohmann::json;

namespace {
std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}
}  // namespace

TEST(ClipTokenizerFiles, EqualTheTokenizerDiffusersWrote) {
    const std::string ours = test::temp_dir() + "/tokenizer", theirs = test::fixture_path("sd1-tiny-diffusers/tokenizer");
    write_clip_tokenizer_folder(ours, 49407);
    for (const char* f : {"vocab.json", "tokenizer_config.json", "special_tokens_map.json"})
        EXPECT_EQ(Json::parse(read_text(ours + "/" + f)), Json::parse(read_text(theirs + "/" + f))) << f;
    EXPECT_EQ(Json::parse(read_text(ours + "/vocab.json")).size(), 49408u);
    for (const char* f : {"merges.txt", "vocab.json"}) EXPECT_EQ(read_text(ours + "/" + f), read_text(theirs + "/" + f)) << f;
}

TEST(ClipTokenizerFiles, OpenClipTowersPadWithTheExclamationMark) {
    const std::string dir = test::temp_dir() + "/tokenizer_2";
    write_clip_tokenizer_folder(dir, 0);
    EXPECT_EQ(Json::parse(read_text(dir + "/special_tokens_map.json")).at("pad_token"), "!");
    EXPECT_EQ(Json::parse(read_text(dir + "/tokenizer_config.json")).at("pad_token"), "!");
    EXPECT_THROW(write_clip_tokenizer_folder(dir, 49408), Error);
}
