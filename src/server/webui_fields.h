// server/webui_fields.h — webui's request models for /sdapi/v1/txt2img and /img2img
// (modules/api/models.py builds them from StableDiffusionProcessingTxt2Img / Img2Img): every field
// with its default, and which fields difu does not apply. A field difu does not apply is accepted,
// and named in the response's info when its value would have changed webui's result.
#pragma once
#include <string>
#include <vector>

#include "server/json_fields.h"

namespace difu::server {

enum class GenerationKind { Txt2Img, Img2Img };

// Every field of webui's model with webui's default (the base of the response's "parameters" echo).
const Json& webui_defaults(GenerationKind kind);

// The fields of `body` that difu accepts but does not apply, sorted by name: fields of webui's model
// whose value is not the one that changes nothing (enable_hr: true, styles: ["x"], tiling: true, ...),
// and fields webui does not know at all. Applied fields (prompt, steps, ...) never appear.
std::vector<std::string> ignored_fields(const Json& body, GenerationKind kind);

}  // namespace difu::server
