// text/clip_pretokenizer.h — the text side of openai's CLIP tokenizer (clip/simple_tokenizer.py), before BPE:
//   text = whitespace_clean(basic_clean(text)).lower();  words = re.findall(pat, text)
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace difu {

// basic_clean + whitespace_clean + lower():
//   html.unescape(html.unescape(text)).strip(), runs of \s -> ' ', strip(), str.lower().
// basic_clean's first step, ftfy.fix_text (mojibake repair, NFC, ...), is not reproduced: prompts that ftfy
// would change (e.g. "Ã©" for "é", decomposed accents) tokenize as openai's code would without ftfy.
std::u32string clip_clean_text(std::u32string_view text);

// re.findall with openai's pattern, compiled with the `regex` module and IGNORECASE:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// Whitespace separates words and is dropped. Two effects of IGNORECASE on lowercased text are kept: U+017F (ſ)
// matches 's' in the literals, and U+0345 (combining ypogegrammeni, which case-folds to a letter) matches no
// alternative at all, so it is dropped.
std::vector<std::u32string_view> clip_split_words(std::u32string_view cleaned);

}  // namespace difu
