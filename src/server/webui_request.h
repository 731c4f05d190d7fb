// server/webui_request.h — a webui txt2img / img2img request body as one GenerateRequest, with
// webui's field names and defaults (steps 50, cfg_scale 7, 512x512, sampler "Euler"), the global
// options under the request's override_settings, and the fields difu accepts without applying.
#pragma once
#include <string>
#include <vector>

#include "pipeline/extra_networks.h"
#include "pipeline/request.h"
#include "server/json_fields.h"
#include "server/model_info.h"
#include "server/webui_fields.h"

namespace difu::server {

// webui's live-preview options: how often, which pictures (live_preview_content "Prompt": the batch's
// first; "Combined": the whole batch side by side) and in which format (live_previews_image_format).
struct LivePreview {
    int every = 0;  // steps; 0 = none
    bool combined = false;
    std::string format = "png";  // png, jpeg, webp
};

struct WebuiRequest {
    GenerateRequest request;
    std::vector<std::string> ignored_fields;  // named in the response's info
    Json parameters;                          // the response's echo: webui's defaults, the client's fields over them
    bool send_images = true;                  // webui's send_images: false answers without the pictures
    ModelInfo model;                          // the checkpoint to run: sd_model_checkpoint (override, then options)
    std::optional<std::string> vae;           // sd_vae's file, "" for "None"; none for "Automatic" (the server's choice)
    LivePreview preview;                      // options show_progress_every_n_steps, live_previews_enable, ...
};

// Limits the server puts on one request, over what validate_request checks.
struct ServerLimits {
    RequestLimits request{2048, 150, 8};
    int max_batch_count = 8;  // n_iter
};

// Throws ApiError 400 naming the field for a wrong type, a bad value, bad base64 or an init image
// that does not decode. `options` is the server's settings object (OptionsStore::get()); `names`
// resolve its sd_model_checkpoint and sd_vae (and the override's), `first` when neither names a
// checkpoint; `refiner` the
// refiner it holds (refiner_checkpoint must name it), if any; `loras` the folder the prompt's
// <lora:name:...> tags are looked up in (none: such a tag is a 400).
WebuiRequest parse_webui_request(const Json& body, GenerationKind kind, const Json& options, const ModelInfo& first,
                                 const Resolvers& names, const ServerLimits& limits,
                                 const ModelInfo* refiner = nullptr, const LoraLibrary* loras = nullptr);

// Decodes a base64 (or data URL) image; `name` is the field, e.g. "init_images[0]". Throws ApiError 400.
Image decode_base64_image(const std::string& text, const std::string& name);

}  // namespace difu::server
