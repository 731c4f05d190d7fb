// server/webui_response.h — the answer to txt2img / img2img as webui shapes it:
//   {"images": [base64 PNG, ...], "parameters": {the request, defaults filled}, "info": "<JSON text>"}
// where info is webui's Processed.js() (prompt, seed, all_seeds, infotexts, sampler_name, ...) plus
// what difu adds: ignored_fields, interrupted, skipped_batches and the per-phase times.
#pragma once
#include "server/generation.h"
#include "server/json_fields.h"
#include "server/model_info.h"
#include "server/webui_request.h"

namespace difu::server {

// Processed.js(): the info object (the response carries it as a JSON string).
Json generation_info(const WebuiRequest& req, const GenerationOutcome& out, const ModelInfo& model);

// The whole response body. Each image is a PNG whose "parameters" text is its infotext, as webui
// saves them.
Json generation_response(const WebuiRequest& req, const GenerationOutcome& out, const ModelInfo& model);

}  // namespace difu::server
