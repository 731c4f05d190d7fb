// tests/text/clip_tokenizer_test.cpp — the CLIP tokenizer against openai's clip/simple_tokenizer.py.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "test_support.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_chunks.h"

namespace difu {
namespace {

const ClipTokenizer& tokenizer() { return ClipTokenizer::default_instance(); }

std::string from_hex(const std::string& hex) {
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return bytes;
}

nlohmann::json tokenizer_cases() {
    std::ifstream in(test::fixture_path("sd1-tiny/cases.json"));
    EXPECT_TRUE(in) << "missing fixture " << test::fixture_path("sd1-tiny/cases.json");
    return nlohmann::json::parse(in).at("tokenizer_cases");
}

TEST(Tokenizer, MatchesOpenAiOnFixturePrompts) {
    auto cases = tokenizer_cases();
    ASSERT_FALSE(cases.empty());
    for (const auto& c : cases) {
        std::string prompt = from_hex(c.at("prompt_utf8_hex").get<std::string>());
        ASSERT_EQ(prompt, c.at("prompt").get<std::string>());
        std::vector<int> ids = tokenizer().encode(prompt);
        EXPECT_EQ(ids, c.at("bpe_ids").get<std::vector<int>>()) << "prompt: " << prompt;
        auto ids77 = ids_77(ids);
        EXPECT_EQ(std::vector<int>(ids77.begin(), ids77.end()), c.at("ids_77").get<std::vector<int>>())
            << "prompt: " << prompt;
        EXPECT_EQ(c.at("truncated").get<bool>(), ids.size() > static_cast<size_t>(kPromptChunkTokens));
    }
}

// Expected ids from openai's simple_tokenizer.py with ftfy.fix_text left out (as difu does), Python 3.11 and
// the `regex` module; each case exercises one rule of the cleanup or of the pattern.
TEST(Tokenizer, MatchesSimpleTokenizerOnEdgeCases) {
    struct Case {
        const char* why;
        std::string text;
        std::vector<int> ids;
    };
    const std::vector<Case> cases = {
        {"html.unescape twice", "rock &amp;amp; roll", {2172, 261, 3341}},
        {"legacy names need no ';'", "&lt &gt &quot &amp done", {283, 285, 257, 261, 1700}},
        {"longest legacy prefix; numeric references", "&notit; &ampx &#39;s &#x27;t", {126, 361, 585, 282, 261, 343, 568, 713}},
        {"cp1252 C1 and U+FFFD references", "&#128; &#150; &#0; &#xD800; &#1114112; &#99999999999;",
         {6309, 1224, 39802, 39802, 39802, 39802}},
        {"HTML5-only names", "&hearts; &NotEqualTilde; &CounterClockwiseContourIntegral;",
         {3405, 22684, 224, 136, 372, 17788, 367}},
        {"Final_Sigma in str.lower()", "ΟΔΟΣ ΣΑΣ", {138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 109, 139, 480}},
        {"İ lowers to i + U+0307", "İstanbul", {328, 16384, 11231}},
        {"IGNORECASE: ſ matches the 's' of the literals", "itſ <|ſtartoftext|> ſs",
         {529, 129, 379, 27, 91, 129, 123, 2002, 6659, 18169, 91, 285, 129, 123, 338}},
        {"U+0345 matches no alternative", "a\u0345b", {320, 321}},
        {"U+001C is a str.strip() space but no regex \\s", "tab\x1cseparated \x1c", {14724, 472, 22163}},
        {"\\p{N} is one character", "\u0663 apples, \u0661\u0662\u0663 and \u00bd and \u216b",
         {149, 352, 14032, 267, 149, 350, 149, 351, 149, 352, 537, 33613, 537, 158, 227, 375}},
        {"special tokens; a punctuation run swallows '<'", "<|startoftext|>a photo<|endoftext|>!<|endoftext|>",
         {49406, 320, 1125, 49407, 0, 27, 347, 40786, 4160, 91, 285}},
        {"contractions, after lowercasing", "don't 'RE 'Ll 'x", {847, 713, 982, 1342, 262, 343}},
        {"Unicode whitespace", "\u00a0 nbsp\u3000ideographic\u2028line  ", {6459, 4393, 1909, 78, 4245, 1148}},
        {"many merge rounds", "supercalifragilisticexpialidocious", {1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 38466}},
    };
    for (const auto& c : cases) EXPECT_EQ(tokenizer().encode(c.text), c.ids) << c.why << ": " << c.text;

    std::vector<int> long_word(37, 23126);  // "a" * 300: longer than any cached word
    long_word.push_back(19336);
    EXPECT_EQ(tokenizer().encode(std::string(300, 'a')), long_word);
}

TEST(Tokenizer, SpecialTokensAndCommaHaveTheirIds) {
    EXPECT_EQ(tokenizer().encode("<|startoftext|>"), std::vector<int>{kClipStartToken});
    EXPECT_EQ(tokenizer().encode("<|endoftext|>"), std::vector<int>{kClipEndToken});
    EXPECT_EQ(tokenizer().encode(","), std::vector<int>{kClipCommaToken});
    EXPECT_EQ(tokenizer().decode(std::vector<int>{kClipCommaToken}), ", ");
}

TEST(Tokenizer, EmptyAndBlankTextGiveNoTokens) {
    EXPECT_TRUE(tokenizer().encode("").empty());
    EXPECT_TRUE(tokenizer().encode(" \t\n\u3000 ").empty());
}

TEST(Tokenizer, IllFormedUtf8ReadsAsReplacementCharacters) {
    const std::vector<int> replacement = tokenizer().encode("\xEF\xBF\xBD");  // U+FFFD itself
    ASSERT_FALSE(replacement.empty());
    std::vector<int> two = replacement;
    two.insert(two.end(), replacement.begin(), replacement.end());
    // Each maximal ill-formed subpart is one U+FFFD, and the FFFDs form one punctuation run.
    EXPECT_EQ(tokenizer().encode("\xFF"), replacement);
    EXPECT_EQ(tokenizer().encode("\xE2\x82"), replacement);    // truncated 3-byte sequence
    EXPECT_EQ(tokenizer().encode("\xED\xA0\x80"), tokenizer().encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));  // surrogate
    EXPECT_EQ(tokenizer().encode("\xC0\xAF"), tokenizer().encode("\xEF\xBF\xBD\xEF\xBF\xBD"));  // overlong '/'
    EXPECT_EQ(tokenizer().encode(std::string("a\0b", 3)), (std::vector<int>{320, 444, 321}));  // NUL is just a symbol
}

TEST(Tokenizer, DecodeInvertsEncodeUpToCleanup) {
    auto ids = tokenizer().encode("A Photo of a CAT, 4k!");
    EXPECT_EQ(tokenizer().decode(ids), "a photo of a cat , 4 k ! ");
    EXPECT_THROW(tokenizer().decode(std::vector<int>{kClipVocabSize}), Error);
    EXPECT_THROW(tokenizer().decode(std::vector<int>{-1}), Error);
}

TEST(Tokenizer, MissingVocabularyIsAnErrorNamingTheFile) {
    try {
        ClipTokenizer t("/nonexistent/bpe.txt.gz");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/bpe.txt.gz"), std::string::npos) << e.what();
    }
}

TEST(Tokenizer, TruncatedVocabularyIsAnError) {
    std::string path = test::temp_dir() + "/short_vocab.txt.gz";
    {
        std::ofstream out(path, std::ios::binary);  // gzread reads an uncompressed file as it is
        out << "#version: 0.2\ni n\nt h\n";
    }
    EXPECT_THROW(ClipTokenizer{path}, Error);
}

TEST(Tokenizer, EncodeIsSafeFromManyThreads) {
    const std::vector<int> expected = tokenizer().encode("a photograph of an astronaut riding a horse");
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i)
                ok[t] += tokenizer().encode("a photograph of an astronaut riding a horse") == expected;
        });
    for (auto& th : threads) th.join();
    for (int n : ok) EXPECT_EQ(n, 200);
}

}  // namespace
}  // namespace difu
