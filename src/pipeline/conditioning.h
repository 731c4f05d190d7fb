// pipeline/conditioning.h — a prompt to the UNet's context, as AUTOMATIC1111 webui does it
// (sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords.process_tokens, emphasis "Original"):
//   per 77-token chunk:  z = CLIP(ids);  m = mean(z);  z = z * weight_per_token;  z = z * (m / mean(z))
//   context = concat over chunks along the tokens   -> [1, 77 * chunks, width]
// Token ids after a chunk's end token become the encoder's pad token (49407 SD 1.x, 0 OpenCLIP).
// With several encoders (SDXL) each weighs its own chunks and the contexts are concatenated along the
// channels (sgm's GeneralConditioner); the pooled output is the first chunk's, unweighted (webui).
#pragma once
#include <span>
#include <string_view>

#include "models/clip_text.h"
#include "pipeline/textual_inversion.h"
#include "text/prompt_chunks.h"

namespace difu {

// What the UNet is conditioned on for one prompt.
struct Conditioning {
    Tensor context;  // [1, tokens, context_dim]: cross-attention
    Tensor vector;   // [1, adm_in_channels]: SDXL's y (pooled text + size / crop features); else undefined
    Conditioning() = default;
    Conditioning(Tensor c, Tensor v = Tensor()) : context(std::move(c)), vector(std::move(v)) {}  // NOLINT: implicit
};

Tensor encode_prompt(const ClipTextModel& clip, const TokenizedPrompt& prompt, int clip_skip, Arena& arena);
Tensor encode_prompt(const ClipTextModel& clip, const ClipTokenizer& tokenizer, std::string_view prompt,
                     int clip_skip, Arena& arena);
// Every encoder of the model on the same chunks: {context [1, 77 * chunks, sum of widths], pooled}.
// `embeddings`: the textual inversions the prompt may name (pipeline/textual_inversion.h).
TextEncoding encode_prompt(std::span<const ClipTextModel* const> encoders, const ClipTokenizer& tokenizer,
                           std::string_view prompt, int clip_skip, Arena& arena, const EmbeddingSet* embeddings = nullptr);

}  // namespace difu
