#include "pipeline/conditioning.h"

#include <algorithm>
#include <cstring>

namespace difu {

namespace {
double mean_of(const float* p, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s / static_cast<double>(n);
}

// Chunks come end-padded (SD 1.x's convention); an encoder whose pad token differs gets every id after
// the first end token replaced, as webui's process_tokens does (OpenCLIP: 0, as open_clip.tokenize).
std::array<int, kClipChunkLength> with_padding(std::array<int, kClipChunkLength> ids, int pad_token) {
    auto end = std::find(ids.begin(), ids.end(), kClipEndToken);
    if (end != ids.end()) std::fill(end + 1, ids.end(), pad_token);
    return ids;
}
}  // namespace

Tensor encode_prompt(const ClipTextModel& clip, const TokenizedPrompt& prompt, int clip_skip, Arena& arena) {
    const int64_t L = clip.config().context_length, W = clip.config().width;
    const int64_t chunks = static_cast<int64_t>(prompt.chunks.size());
    if (chunks == 0) throw Error::make("encode_prompt: a tokenized prompt has at least one chunk");
    if (L != kClipChunkLength) throw Error::make("text encoder context length {} != {}", L, kClipChunkLength);
    Tensor context = Tensor::empty({1, chunks * L, W});
    for (int64_t c = 0; c < chunks; ++c) {
        const PromptChunk& chunk = prompt.chunks[static_cast<size_t>(c)];
        Tensor z = clip.forward(with_padding(chunk.ids, clip.config().pad_token), 1, clip_skip, arena);
        float* zp = z.mutable_data<float>();
        const double original_mean = mean_of(zp, L * W);
        for (int64_t t = 0; t < L; ++t)
            for (int64_t i = 0; i < W; ++i) zp[t * W + i] *= chunk.weights[static_cast<size_t>(t)];
        const double new_mean = mean_of(zp, L * W);
        // The rescale restores the chunk's mean, so emphasis changes directions, not overall magnitude.
        const float restore = new_mean != 0 ? static_cast<float>(original_mean / new_mean) : 1.0f;
        for (int64_t i = 0; i < L * W; ++i) zp[i] *= restore;
        std::memcpy(context.mutable_data<float>() + c * L * W, zp, static_cast<size_t>(L * W) * sizeof(float));
    }
    return context;
}

Tensor encode_prompt(const ClipTextModel& clip, const ClipTokenizer& tokenizer, std::string_view prompt, int clip_skip,
                     Arena& arena) {
    return encode_prompt(clip, tokenize_prompt(tokenizer, prompt), clip_skip, arena);
}

}  // namespace difu
