// tests/text/prompt_chunks_test.cpp — 77-token chunks as webui's tokenize_line builds them for SD 1.x.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "text/prompt_chunks.h"

namespace difu {
namespace {

constexpr int kA = 320, kB = 321, kCat = 2368;  // "a</w>", "b</w>", "cat</w>"

const ClipTokenizer& tokenizer() { return ClipTokenizer::default_instance(); }

// [start] + tokens + [end], padded with end to 77.
std::array<int, kClipChunkLength> wrapped(const std::vector<int>& tokens) {
    EXPECT_LE(tokens.size(), static_cast<size_t>(kPromptChunkTokens));
    std::array<int, kClipChunkLength> ids;
    ids.fill(kClipEndToken);
    ids[0] = kClipStartToken;
    std::copy(tokens.begin(), tokens.end(), ids.begin() + 1);
    return ids;
}

std::vector<int> repeat(int token, int n) { return std::vector<int>(static_cast<size_t>(n), token); }

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::string words(const std::string& w, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += w + " ";
    return s;
}

TEST(PromptChunks, EmptyPromptIsOneChunkOfEndTokens) {
    auto t = tokenize_prompt(tokenizer(), "");
    ASSERT_EQ(t.chunks.size(), 1u);
    EXPECT_EQ(t.chunks[0].ids, wrapped({}));
    for (float w : t.chunks[0].weights) EXPECT_EQ(w, 1.0f);
    EXPECT_EQ(t.token_count, 0);
}

TEST(PromptChunks, WeightsFollowTheirTokens) {
    auto t = tokenize_prompt(tokenizer(), "a (cat:1.5) [b]");
    ASSERT_EQ(t.chunks.size(), 1u);
    EXPECT_EQ(t.chunks[0].ids, wrapped({kA, kCat, kB}));
    const auto& w = t.chunks[0].weights;
    EXPECT_EQ(w[0], 1.0f);  // start
    EXPECT_EQ(w[1], 1.0f);
    EXPECT_EQ(w[2], 1.5f);
    EXPECT_EQ(w[3], static_cast<float>(kSquareBracketMultiplier));
    for (int i = 4; i < kClipChunkLength; ++i) EXPECT_EQ(w[i], 1.0f) << i;  // end and padding
    EXPECT_EQ(t.token_count, 3);
}

TEST(PromptChunks, LongPromptGoesOnInASecondChunk) {
    auto t = tokenize_prompt(tokenizer(), words("a", 100));
    ASSERT_EQ(t.chunks.size(), 2u);
    EXPECT_EQ(t.chunks[0].ids, wrapped(repeat(kA, 75)));
    EXPECT_EQ(t.chunks[1].ids, wrapped(repeat(kA, 25)));
    EXPECT_EQ(t.token_count, 100);

    auto exactly_full = tokenize_prompt(tokenizer(), words("a", 75));
    EXPECT_EQ(exactly_full.chunks.size(), 1u);
    EXPECT_EQ(exactly_full.token_count, 75);
}

TEST(PromptChunks, FixtureLongPromptCutsAfterItsLastComma) {
    std::ifstream in(test::fixture_path("sd1-tiny/cases.json"));
    ASSERT_TRUE(in);
    const auto cases = nlohmann::json::parse(in).at("tokenizer_cases");
    auto it = std::find_if(cases.begin(), cases.end(), [](const auto& c) { return c.at("truncated").template get<bool>(); });
    ASSERT_NE(it, cases.end());
    const std::string prompt = it->at("prompt").get<std::string>();
    const auto bpe = it->at("bpe_ids").get<std::vector<int>>();  // 79 tokens, commas at 69, 73 and 77
    ASSERT_EQ(bpe.size(), 79u);
    ASSERT_EQ(bpe[73], kClipCommaToken);

    auto t = tokenize_prompt(tokenizer(), prompt);  // the 76th token finds a comma 2 back: cut there
    ASSERT_EQ(t.chunks.size(), 2u);
    EXPECT_EQ(t.chunks[0].ids, wrapped(std::vector<int>(bpe.begin(), bpe.begin() + 74)));
    EXPECT_EQ(t.chunks[1].ids, wrapped(std::vector<int>(bpe.begin() + 74, bpe.end())));
    EXPECT_EQ(t.token_count, 75 + 5);

    auto plain = tokenize_prompt(tokenizer(), prompt, /*comma_padding_backtrack=*/0);
    ASSERT_EQ(plain.chunks.size(), 2u);
    EXPECT_EQ(plain.chunks[0].ids, wrapped(std::vector<int>(bpe.begin(), bpe.begin() + 75)));
    EXPECT_EQ(plain.chunks[1].ids, wrapped(std::vector<int>(bpe.begin() + 75, bpe.end())));
    EXPECT_EQ(plain.token_count, 79);
}

TEST(PromptChunks, CommaBacktrackingMovesTheTailToTheNextChunk) {
    // 70 a, a comma, 10 b: the chunk fills with 4 b after the comma, 5 <= 20 tokens back, so they move on.
    const std::string prompt = words("a", 70) + ", " + words("b", 10);
    auto t = tokenize_prompt(tokenizer(), prompt);
    ASSERT_EQ(t.chunks.size(), 2u);
    EXPECT_EQ(t.chunks[0].ids, wrapped(concat(repeat(kA, 70), {kClipCommaToken})));
    EXPECT_EQ(t.chunks[1].ids, wrapped(repeat(kB, 10)));
    EXPECT_EQ(t.token_count, 85);

    // 50 a, a comma, 30 b: the comma is 25 tokens back, further than 20: a plain cut at 75.
    auto far = tokenize_prompt(tokenizer(), words("a", 50) + ", " + words("b", 30));
    ASSERT_EQ(far.chunks.size(), 2u);
    EXPECT_EQ(far.chunks[0].ids, wrapped(concat(concat(repeat(kA, 50), {kClipCommaToken}), repeat(kB, 24))));
    EXPECT_EQ(far.chunks[1].ids, wrapped(repeat(kB, 6)));
    EXPECT_EQ(far.token_count, 81);
}

TEST(PromptChunks, MovedTokensKeepTheirWeights) {
    auto t = tokenize_prompt(tokenizer(), words("a", 70) + ", (" + words("b", 10) + ":1.25)");
    ASSERT_EQ(t.chunks.size(), 2u);
    EXPECT_EQ(t.chunks[1].ids, wrapped(repeat(kB, 10)));
    for (int i = 1; i <= 10; ++i) EXPECT_EQ(t.chunks[1].weights[i], 1.25f) << i;
    EXPECT_EQ(t.chunks[0].weights[72], 1.0f);  // the padding that replaced them
}

TEST(PromptChunks, BreakStartsANewChunk) {
    auto t = tokenize_prompt(tokenizer(), "a BREAK b");
    ASSERT_EQ(t.chunks.size(), 2u);
    EXPECT_EQ(t.chunks[0].ids, wrapped({kA}));
    EXPECT_EQ(t.chunks[1].ids, wrapped({kB}));
    EXPECT_EQ(t.token_count, 75 + 1);  // a BREAK counts its chunk as full

    auto leading = tokenize_prompt(tokenizer(), "BREAK a");
    ASSERT_EQ(leading.chunks.size(), 2u);
    EXPECT_EQ(leading.chunks[0].ids, wrapped({}));
    EXPECT_EQ(leading.chunks[1].ids, wrapped({kA}));

    auto trailing = tokenize_prompt(tokenizer(), "a BREAK");  // nothing after it: no extra chunk
    EXPECT_EQ(trailing.chunks.size(), 1u);
    EXPECT_EQ(trailing.token_count, 75);
}

TEST(PromptChunks, Ids77IsTheOriginalTruncatingConvention) {
    EXPECT_EQ(ids_77(tokenizer(), "a cat"), wrapped({kA, kCat}));
    EXPECT_EQ(ids_77(tokenizer(), words("a", 80)), wrapped(repeat(kA, 75)));
    EXPECT_EQ(ids_77(std::vector<int>{}), wrapped({}));
}

TEST(PromptChunks, OutOfRangeWeightsBecomeInfinity) {
    auto t = tokenize_prompt(tokenizer(), "(a:" + std::string(39, '9') + ")");  // 1e39 > FLT_MAX
    EXPECT_EQ(t.chunks[0].weights[1], std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace difu
