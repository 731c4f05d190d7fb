// fuzz/prompt_fuzz.cpp — hostile prompts through the whole text layer: webui's attention parser, the CLIP
// tokenizer and the chunker. A difu::Error (an over-long prompt, a weight float() rejects) is a correct answer;
// anything else escaping, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_chunks.h"
#include "text/prompt_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view prompt(reinterpret_cast<const char*>(data), size);
    const auto& tokenizer = difu::ClipTokenizer::default_instance();
    try {
        auto segments = difu::parse_prompt_attention(prompt);
        auto tokenized = difu::tokenize_segments(tokenizer, segments);
        if (tokenized.chunks.empty()) __builtin_trap();  // tokenize_line always gives at least one chunk
        auto ids = tokenizer.encode(prompt);
        (void)tokenizer.decode(ids);
        (void)difu::ids_77(ids);
    } catch (const difu::Error&) {
    }
    return 0;
}
