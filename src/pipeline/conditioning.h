// pipeline/conditioning.h — a prompt to the UNet's context, as AUTOMATIC1111 webui does it
// (sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords.process_tokens, emphasis "Original"):
//   per 77-token chunk:  z = CLIP(ids);  m = mean(z);  z = z * weight_per_token;  z = z * (m / mean(z))
//   context = concat over chunks along the tokens   -> [1, 77 * chunks, width]
// Token ids after a chunk's end token become the encoder's pad token (49407 SD 1.x, 0 OpenCLIP).
#pragma once
#include <string_view>

#include "models/clip_text.h"
#include "text/prompt_chunks.h"

namespace difu {

Tensor encode_prompt(const ClipTextModel& clip, const TokenizedPrompt& prompt, int clip_skip, Arena& arena);
Tensor encode_prompt(const ClipTextModel& clip, const ClipTokenizer& tokenizer, std::string_view prompt,
                     int clip_skip, Arena& arena);

}  // namespace difu
