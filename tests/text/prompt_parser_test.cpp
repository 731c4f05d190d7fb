// tests/text/prompt_parser_test.cpp — parse_prompt_attention against webui's modules/prompt_parser.py.
// Weights compare exactly: they are the doubles Python computes (its repr printed in the docstring).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "text/prompt_parser.h"

namespace difu {
namespace {

using Segments = std::vector<PromptSegment>;

struct Case {
    const char* prompt;
    Segments expected;
};

void expect_parses(const std::vector<Case>& cases) {
    for (const auto& c : cases) EXPECT_EQ(parse_prompt_attention(c.prompt), c.expected) << "prompt: " << c.prompt;
}

TEST(PromptParser, ReproducesWebuiDocstringExamples) {
    expect_parses({
        {"normal text", {{"normal text", 1.0}}},
        {"an (important) word", {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}}},
        {"(unbalanced", {{"unbalanced", 1.1}}},
        {"\\(literal\\]", {{"(literal]", 1.0}}},
        {"(unnecessary)(parens)", {{"unnecessaryparens", 1.1}}},
        {"a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
         {{"a ", 1.0},
          {"house", 1.5730000000000004},
          {" ", 1.1},
          {"on", 1.0},
          {" a ", 1.1},
          {"hill", 0.55},
          {", sun, ", 1.1},
          {"sky", 1.4641000000000006},
          {".", 1.1}}},
    });
}

TEST(PromptParser, BracketsMultiplyAndNest) {
    expect_parses({
        {"", {{"", 1.0}}},
        {"((word))", {{"word", 1.2100000000000002}}},
        {"[word]", {{"word", 0.9090909090909091}}},
        {"[[word]]", {{"word", 0.8264462809917354}}},
        {"(word:1.3)", {{"word", 1.3}}},
        {"a ( word : 1.3 ) b", {{"a ", 1.0}, {" word ", 1.3}, {" b", 1.0}}},  // spaces around the weight
        {"(a:-1)", {{"a", -1.0}}},
        {"(a:+.5)", {{"a", 0.5}}},
        {"(a:5.)", {{"a", 5.0}}},
        {"(a:\u0661.\u0665)", {{"a", 1.5}}},  // re's \d and float() take any decimal digits
        {"[a(b]c)", {{"a", 0.9090909090909091}, {"b", 1.0}, {"c", 1.1}}},  // ( and [ keep separate stacks
        {"(a)(b)[c][d]", {{"ab", 1.1}, {"cd", 0.9090909090909091}}},
        {"(a:1.1)(b)", {{"ab", 1.1}}},  // equal weights merge however they were written
    });
}

TEST(PromptParser, UnbalancedBracketsFollowWebui) {
    expect_parses({
        {"((((x", {{"x", 1.4641000000000006}}},  // unclosed: multiplies to the end
        {"[[[x", {{"x", 0.7513148009015777}}},
        {"a:1.5)", {{"a:1.5)", 1.0}}},           // a weight with no open bracket is text
        {"a] b)", {{"a] b)", 1.0}}},             // so are stray closers
        {"a:b", {{"a:b", 1.0}}},
        {"(a:b)", {{"a:b", 1.1}}},
        {"(a:)", {{"a:", 1.1}}},
    });
}

TEST(PromptParser, EscapesAreLiteral) {
    expect_parses({
        {"\\\\", {{"\\", 1.0}}},
        {"a\\b", {{"ab", 1.0}}},  // a lone backslash escapes nothing and vanishes
        {"\\", {{"", 1.0}}},
        {"\\((a)\\)", {{"(", 1.0}, {"a", 1.1}, {")", 1.0}}},
    });
}

TEST(PromptParser, BreakSplitsOnlyWholeWords) {
    const PromptSegment brk{"BREAK", -1};
    expect_parses({
        {"a BREAK b", {{"a", 1.0}, brk, {"b", 1.0}}},
        {"BREAK", {{"", 1.0}, brk, {"", 1.0}}},
        {"a,BREAK,b", {{"a,", 1.0}, brk, {",b", 1.0}}},
        {"a BREAK BREAK b", {{"a", 1.0}, brk, {"", 1.0}, brk, {"b", 1.0}}},
        {"BREAK\\(BREAK", {{"", 1.0}, brk, {"(", 1.0}, brk, {"", 1.0}}},
        {"aBREAK b", {{"aBREAK b", 1.0}}},
        {"a BREAKs", {{"a BREAKs", 1.0}}},
        {"a_BREAK", {{"a_BREAK", 1.0}}},
        {"(a BREAK b)", {{"a", 1.1}, {"BREAK", -1.1}, {"b", 1.1}}},  // weighted: no longer a marker
        {"(x BREAK:0)", {{"xBREAK", 0.0}}},                          // -0.0 == 0.0 merges the marker away
    });
    EXPECT_TRUE(parse_prompt_attention("a BREAK b")[1].is_break());
    EXPECT_FALSE(parse_prompt_attention("(a BREAK b)")[1].is_break());
}

TEST(PromptParser, WeightsFloatRejectsAreErrors) {
    for (const char* p : {"(a:1.2.3)", "(a:.)", "(a:..5)"}) EXPECT_THROW(parse_prompt_attention(p), Error) << p;
}

TEST(PromptParser, HugeAndTinyWeightsBehaveLikePythonFloats) {
    auto huge = parse_prompt_attention("(a:" + std::string(400, '9') + ")(b:0)");
    ASSERT_EQ(huge.size(), 2u);
    EXPECT_EQ(huge[0].weight, std::numeric_limits<double>::infinity());
    EXPECT_EQ(huge[1].weight, 0.0);
    auto tiny = parse_prompt_attention("(a:0." + std::string(400, '0') + "1)");
    EXPECT_EQ(tiny, (Segments{{"a", 0.0}}));
    auto nan = parse_prompt_attention("((a:" + std::string(400, '9') + ")b:0)");  // inf * 0 = NaN
    ASSERT_EQ(nan.size(), 2u);
    EXPECT_TRUE(std::isnan(nan[0].weight));
    EXPECT_EQ(nan[1], (PromptSegment{"b", 0.0}));
    // (a:1e400) is no weight at all: the pattern has no exponent.
    EXPECT_EQ(parse_prompt_attention("(a:1e400)"), (Segments{{"a:1e400", 1.1}}));
}

TEST(PromptParser, HostileInputIsBounded) {
    double w = 1.0;  // 2000 unclosed brackets multiply one at a time, in order
    for (int i = 0; i < 2000; ++i) w *= kRoundBracketMultiplier;
    EXPECT_EQ(parse_prompt_attention(std::string(2000, '(') + "x"), (Segments{{"x", w}}));
    EXPECT_EQ(parse_prompt_attention(std::string(5000, ')')), (Segments{{std::string(5000, ')'), 1.0}}));
    EXPECT_THROW(parse_prompt_attention(std::string(kMaxPromptBytes + 1, 'a')), Error);
    auto bad_utf8 = parse_prompt_attention("(\xFF\xFE)");
    EXPECT_EQ(bad_utf8, (Segments{{"\uFFFD\uFFFD", 1.1}}));
}

}  // namespace
}  // namespace difu
