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

// One encoder over every chunk; the first chunk's pooled output into *pooled when asked. `embeddings`
// (with the encoder's index) gives the vectors of the chunks' textual-inversion fixes.
Tensor encode_chunks(const ClipTextModel& clip, const TokenizedPrompt& prompt, int clip_skip, Arena& arena,
                     Tensor* pooled, const EmbeddingSet* embeddings = nullptr, size_t encoder = 0) {
    const int64_t L = clip.config().context_length, W = clip.config().width;
    const int64_t chunks = static_cast<int64_t>(prompt.chunks.size());
    if (chunks == 0) throw Error::make("encode_prompt: a tokenized prompt has at least one chunk");
    if (L != kClipChunkLength) throw Error::make("text encoder context length {} != {}", L, kClipChunkLength);
    Tensor context = Tensor::empty({1, chunks * L, W});
    for (int64_t c = 0; c < chunks; ++c) {
        const PromptChunk& chunk = prompt.chunks[static_cast<size_t>(c)];
        std::vector<TokenVectors> fixes;
        for (const ChunkFix& f : chunk.fixes) {
            if (!embeddings) throw Error::make("a prompt chunk places an embedding, but no embeddings are loaded");
            fixes.push_back({f.offset + 1, embeddings->loaded.at(static_cast<size_t>(f.embedding)).per_encoder.at(encoder)});
        }
        TextEncoding e = clip.encode(with_padding(chunk.ids, clip.config().pad_token), 1, clip_skip, arena, fixes);
        if (pooled && c == 0) *pooled = e.pooled;
        float* zp = e.hidden.mutable_data<float>();
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
}  // namespace

Tensor encode_prompt(const ClipTextModel& clip, const TokenizedPrompt& prompt, int clip_skip, Arena& arena) {
    return encode_chunks(clip, prompt, clip_skip, arena, nullptr);
}

Tensor encode_prompt(const ClipTextModel& clip, const ClipTokenizer& tokenizer, std::string_view prompt, int clip_skip,
                     Arena& arena) {
    return encode_prompt(clip, tokenize_prompt(tokenizer, prompt), clip_skip, arena);
}

TextEncoding encode_prompt(std::span<const ClipTextModel* const> encoders, const ClipTokenizer& tokenizer,
                           std::string_view prompt, int clip_skip, Arena& arena, const EmbeddingSet* embeddings) {
    const TokenizedPrompt tokens =
        tokenize_prompt(tokenizer, prompt, kCommaPaddingBacktrack, embeddings ? &embeddings->vocabulary : nullptr);
    TextEncoding out;
    std::vector<Tensor> contexts;
    int64_t width = 0;
    for (size_t i = 0; i < encoders.size(); ++i) {
        const ClipTextModel* clip = encoders[i];
        contexts.push_back(encode_chunks(*clip, tokens, clip_skip, arena, clip->config().pooled_dim > 0 ? &out.pooled : nullptr,
                                         embeddings, i));
        width += contexts.back().dim(2);
    }
    if (contexts.size() == 1) {
        out.hidden = std::move(contexts.front());
        return out;
    }
    const int64_t rows = contexts.front().dim(1);  // [1, tokens, width_e] each -> [1, tokens, sum]
    out.hidden = Tensor::empty({1, rows, width});
    float* dst = out.hidden.mutable_data<float>();
    int64_t offset = 0;
    for (const Tensor& c : contexts) {
        const int64_t w = c.dim(2);
        for (int64_t r = 0; r < rows; ++r)
            std::memcpy(dst + r * width + offset, c.data<float>() + r * w, static_cast<size_t>(w) * sizeof(float));
        offset += w;
    }
    return out;
}

}  // namespace difu
