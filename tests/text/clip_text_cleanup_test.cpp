// tests/text/clip_text_cleanup_test.cpp — the pieces of the CLIP tokenizer's text cleanup, each against the
// Python function it reproduces (expected values printed by CPython 3.11).
#include <gtest/gtest.h>

#include "text/clip_pretokenizer.h"
#include "text/html_unescape.h"
#include "text/python_unicode.h"
#include "core/utf8.h"

namespace difu {
namespace {

std::string unescape(const std::string& s) { return u32_to_utf8(html_unescape(utf8_to_u32(s))); }

TEST(TokenizerCleanup, HtmlUnescapeMatchesPython) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"&amp;", "&"}, {"&amp", "&"}, {"&AMP;", "&"}, {"&lt;3", "<3"}, {"&quot;q&quot", "\"q\""},
        {"&apos;", "'"}, {"&nbsp;x", "\u00a0x"}, {"&eacute;t&eacute", "été"}, {"&#65;&#x42;&#X43", "ABC"},
        {"&#0;", "\uFFFD"}, {"&#13;", "\r"}, {"&#128;", "€"}, {"&#129;", "\u0081"}, {"&#xD800;", "\uFFFD"},
        {"&#1114112;", "\uFFFD"}, {"&#99999999999999999999;", "\uFFFD"}, {"&#1;", ""}, {"&#xFFFE;", ""},
        {"&#", "&#"}, {"&#x;", "&#x;"}, {"&;", "&;"}, {"&", "&"}, {"a & b", "a & b"}, {"&ampx;", "&x;"},
        {"&notin;", "∉"}, {"&notit;", "¬it;"}, {"&hearts;", "♥"}, {"&NotEqualTilde;", "≂\u0338"},
        {"&nosuch;", "&nosuch;"}, {"&zz", "&zz"}, {"&" + std::string(40, 'a') + ";", "&" + std::string(40, 'a') + ";"},
        {"&amp;amp;", "&amp;"}, {"&éé", "&éé"}, {"&lté", "<é"},
    };
    for (const auto& [in, want] : cases) EXPECT_EQ(unescape(in), want) << in;
}

TEST(TokenizerCleanup, CleanTextUnescapesCollapsesSpacesAndLowercases) {
    auto clean = [](const std::string& s) { return u32_to_utf8(clip_clean_text(utf8_to_u32(s))); };
    EXPECT_EQ(clean("  Rock &amp;amp; ROLL\t\n  ok  "), "rock & roll ok");
    EXPECT_EQ(clean("ΟΔΟΣ"), "\u03bf\u03b4\u03bf\u03c2");  // the last Σ lowers to final ς
    EXPECT_EQ(clean("İ"), "i\u0307");                    // no Turkish rules: root locale, like str.lower()
    EXPECT_EQ(clean("\x1c a \x1c"), "a");               // str.strip() removes U+001C ...
    EXPECT_EQ(clean("a\x1c b"), "a\x1c b");             // ... but the regex \s does not collapse it
    EXPECT_EQ(clean("a&nbsp;&nbsp;b"), "a b");          // entities become spaces before the collapse
}

TEST(TokenizerCleanup, WordsFollowOpenAisPattern) {
    auto words = [](const std::string& s) {
        std::u32string text = utf8_to_u32(s);
        std::vector<std::string> out;
        for (auto w : clip_split_words(text)) out.push_back(u32_to_utf8(w));
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(words("it's a dog's toy"), (V{"it", "'s", "a", "dog", "'s", "toy"}));
    EXPECT_EQ(words("1234 4k"), (V{"1", "2", "3", "4", "4", "k"}));
    EXPECT_EQ(words("hi!!! ...ok?"), (V{"hi", "!!!", "...", "ok", "?"}));
    EXPECT_EQ(words("<|startoftext|>x<|endoftext|>"), (V{"<|startoftext|>", "x", "<|endoftext|>"}));
    EXPECT_EQ(words("!<|endoftext|>"), (V{"!<|", "endoftext", "|>"}));
    EXPECT_EQ(words("'ſ 'ret"), (V{"'ſ", "'re", "t"}));
    EXPECT_EQ(words("a\u0345b"), (V{"a", "b"}));
    EXPECT_EQ(words("東京タワー🐱"), (V{"東京タワー", "🐱"}));
}

TEST(TokenizerCleanup, Utf8DecodingReplacesEachMaximalSubpart) {
    // Python: b"...".decode("utf-8", errors="replace")
    EXPECT_EQ(utf8_to_u32("a\x80" "b"), (std::u32string{U'a', kReplacementChar, U'b'}));
    EXPECT_EQ(utf8_to_u32("\xF0\x9F\x90"), (std::u32string{kReplacementChar}));              // truncated emoji
    EXPECT_EQ(utf8_to_u32("\xF0\x9F\x90z"), (std::u32string{kReplacementChar, U'z'}));
    EXPECT_EQ(utf8_to_u32("\xE0\x80\x80"), std::u32string(3, kReplacementChar));           // overlong
    EXPECT_EQ(utf8_to_u32("\xF4\x90\x80\x80"), std::u32string(4, kReplacementChar));       // above U+10FFFF
    EXPECT_EQ(utf8_to_u32("\xF0\x9F\x90\xB1"), (std::u32string{U'\U0001F431'}));
    EXPECT_EQ(u32_to_utf8(U"\U0001F431é"), "🐱é");
}

TEST(TokenizerCleanup, PythonCharacterClasses) {
    EXPECT_TRUE(is_python_space(0x1C) && !is_regex_space(0x1C));
    EXPECT_TRUE(is_python_space(0x3000) && is_regex_space(0x3000));
    EXPECT_FALSE(is_python_space(0x200B));                 // zero width space is not a space
    EXPECT_TRUE(is_python_word_char(U'一'));                 // isnumeric(): CJK numerals are \w
    EXPECT_TRUE(is_python_word_char(U'_'));
    EXPECT_FALSE(is_python_word_char(0x0301));             // combining marks are not \w in `re`
    EXPECT_EQ(decimal_digit_value(U'٣'), 3);
    EXPECT_EQ(decimal_digit_value(U'½'), -1);
    EXPECT_TRUE(is_number(U'Ⅻ') && is_number(U'½') && !is_letter(U'½'));
}

}  // namespace
}  // namespace difu
