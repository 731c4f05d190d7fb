// server/sdapi_routes.cpp — webui's informational and settings routes: samplers, schedulers,
// sd-models, options, png-info, and the lists webui clients poll on start-up (empty where difu has
// nothing of the kind: upscalers, styles, hypernetworks, face restorers).
#include <fmt/format.h>

#include "io/image.h"
#include "io/png_info.h"
#include "sampling/sampler_names.h"
#include "server/api_error.h"
#include "server/base64.h"
#include "server/server_state.h"

namespace difu::server {
namespace {

using httplib::Request;
using httplib::Response;

Json samplers() {
    Json out = Json::array();
    for (SamplerKind k : all_samplers()) {
        const SamplerInfo& info = sampler_info(k);
        Json options = Json::object();  // webui's sampler options, as the strings its API sends
        if (info.automatic) options["scheduler"] = info.automatic == SigmaScheduler::Karras ? "karras" : "exponential";
        if (info.discard_penultimate_sigma) options["discard_next_to_last_sigma"] = "True";
        if (info.calls_per_step > 1) options["second_order"] = "True";
        if (info.noise == SamplerNoise::Brownian) options["brownian_noise"] = "True";
        out.push_back({{"name", sampler_label(k)}, {"aliases", {sampler_id(k)}}, {"options", options}});
    }
    return out;
}

Json schedulers() {  // webui's sd_schedulers entries for the schedules difu has
    // need_inner_model: webui's flag for schedules computed from the model's own sigmas.
    auto entry = [](const char* name, const char* label, double rho, bool inner) {
        return Json{{"name", name}, {"label", label}, {"aliases", nullptr}, {"default_rho", rho}, {"need_inner_model", inner}};
    };
    return Json::array({entry("automatic", "Automatic", -1, false), entry("uniform", "Uniform", -1, true),
                        entry("karras", "Karras", kKarrasRho, false),
                        entry("exponential", "Exponential", -1, false), entry("sgm_uniform", "SGM Uniform", -1, true),
                        entry("simple", "Simple", -1, true), entry("sgm_legacy", "SGM Legacy", -1, true)});
}

// The served checkpoints (--model first, then --models-dir's), then the refiner. A checkpoint not
// loaded yet has no hash (null), as in webui before it hashes a file.
Json sd_models(const std::vector<ModelInfo>& models, const std::optional<ModelInfo>& refiner) {
    Json list = Json::array();
    auto or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
    std::vector<ModelInfo> all = models;
    if (refiner) all.push_back(*refiner);
    for (const ModelInfo& i : all)
        list.push_back({{"title", i.title}, {"model_name", i.model_name}, {"hash", or_null(i.hash)}, {"sha256", or_null(i.sha256)},
                        {"filename", i.filename}, {"config", nullptr}});
    return list;
}

std::string number_text(double v) { return fmt::format("{}", v); }

// infotext_utils.parse_generation_parameters' dictionary: webui's keys, string values.
Json infotext_parameters(const GenerationInfo& g) {
    Json p = {{"Prompt", g.prompt}, {"Negative prompt", g.negative_prompt}, {"Steps", std::to_string(g.steps)},
              {"Sampler", g.sampler}, {"CFG scale", number_text(g.cfg_scale)}, {"Seed", std::to_string(g.seed)},
              {"Size-1", std::to_string(g.width)}, {"Size-2", std::to_string(g.height)},
              {"Clip skip", std::to_string(g.clip_skip)}};
    if (!g.schedule_type.empty()) p["Schedule type"] = g.schedule_type;
    if (!g.model_hash.empty()) p["Model hash"] = g.model_hash;
    if (!g.model_name.empty()) p["Model"] = g.model_name;
    if (g.denoising_strength) p["Denoising strength"] = number_text(*g.denoising_strength);
    if (!g.rng.empty()) p["RNG"] = g.rng;
    if (!g.version.empty()) p["Version"] = g.version;
    for (const auto& [k, v] : g.extra) p[k] = v;
    return p;
}

// POST /sdapi/v1/png-info {image} -> {info, items, parameters}: the "parameters" text, the other
// text chunks, and the parameters parsed as webui parses them.
Json png_info(const Request& req) {
    const Json body = parse_json_object(req.body);
    const std::string text = FieldReader(body).string("image").value_or("");
    const std::string_view payload = strip_data_url(text);
    if (payload.empty()) throw bad_request("image: a base64 image (or data URL) is required");
    TextChunks chunks;
    try {
        const std::vector<uint8_t> bytes = base64_decode(payload, "image");
        chunks = decode_image_text("image", bytes);
    } catch (const Error& e) {
        throw bad_request(e.what());
    }
    std::string info;
    Json items = Json::object();
    for (const auto& [key, value] : chunks) {
        if (key == "parameters") info = value;
        else items[key] = value;
    }
    Json parameters = Json::object();
    if (!info.empty()) {
        try {
            parameters = infotext_parameters(parse_infotext(info));
        } catch (const Error&) {
            // A picture's text difu cannot read as an infotext is still a fine answer: info and
            // items as they are, no parameters.
        }
    }
    return {{"info", info}, {"items", items}, {"parameters", parameters}};
}

}  // namespace

void add_sdapi_routes(httplib::Server& http, ServerState& s) {
    auto get = [&](const std::string& path, std::function<Json()> body) {
        add_route(http, s, "GET", path, [body](const Request&, Response& res) { send_json(res, body()); });
    };
    get("/sdapi/v1/samplers", samplers);
    get("/sdapi/v1/schedulers", schedulers);
    get("/sdapi/v1/sd-models", [&s] { return sd_models(s.models.list(), s.refiner); });
    add_route(http, s, "POST", "/sdapi/v1/refresh-checkpoints", [&s](const Request&, Response& res) {
        s.models.refresh();
        send_json(res, nullptr);
    });
    // webui's Lora extension: name, alias, path, metadata of every file in the folder (none without one).
    get("/sdapi/v1/loras", [&s] {
        Json list = Json::array();
        if (s.loras)
            for (const auto& [name, path] : s.loras->entries())
                list.push_back({{"name", name}, {"alias", name}, {"path", path}, {"metadata", Json::object()}});
        return list;
    });
    add_route(http, s, "POST", "/sdapi/v1/refresh-loras", [&s](const Request&, Response& res) {
        if (s.loras) s.loras->refresh();
        send_json(res, nullptr);
    });
    get("/sdapi/v1/options", [&s] { return s.options.get(); });
    add_route(http, s, "POST", "/sdapi/v1/options", [&s](const Request& req, Response& res) {
        s.options.update(parse_json_object(req.body));
        send_json(res, nullptr);  // webui answers null
    });
    add_route(http, s, "POST", "/sdapi/v1/png-info", [](const Request& req, Response& res) { send_json(res, png_info(req)); });
    for (const char* empty : {"/sdapi/v1/upscalers", "/sdapi/v1/latent-upscale-modes", "/sdapi/v1/prompt-styles",
                              "/sdapi/v1/hypernetworks", "/sdapi/v1/face-restorers", "/sdapi/v1/realesrgan-models"})
        get(empty, [] { return Json::array(); });
    get("/sdapi/v1/sd-vae", [&s] {  // webui's [{model_name, filename}] of the --vae-dir files
        Json list = Json::array();
        if (s.vaes)
            for (const VaeEntry& v : s.vaes->list()) list.push_back({{"model_name", v.model_name}, {"filename", v.filename}});
        return list;
    });
    add_route(http, s, "POST", "/sdapi/v1/refresh-vae", [&s](const Request&, Response& res) {
        if (s.vaes) s.vaes->refresh();
        send_json(res, nullptr);
    });
    // webui's shape: {"loaded": {name: {step, sd_checkpoint, sd_checkpoint_name, shape, vectors}}, "skipped": {...}}
    get("/sdapi/v1/embeddings", [&s] {
        Json loaded = Json::object(), skipped = Json::object();
        if (EmbeddingLibrary* lib = s.pipe.embeddings()) {
            const auto set = lib->snapshot();
            auto entry = [](int64_t width, int vectors) {
                return Json{{"step", nullptr}, {"sd_checkpoint", nullptr}, {"sd_checkpoint_name", nullptr},
                            {"shape", width}, {"vectors", vectors}};
            };
            for (const auto& e : set->loaded) loaded[e.name] = entry(e.per_encoder.front().dim(1), e.vectors);
            for (const auto& e : set->skipped) skipped[e.name] = entry(e.width, e.vectors);
        }
        return Json{{"loaded", loaded}, {"skipped", skipped}};
    });
    add_route(http, s, "POST", "/sdapi/v1/refresh-embeddings", [&s](const Request&, Response& res) {
        if (EmbeddingLibrary* lib = s.pipe.embeddings()) lib->refresh();
        send_json(res, nullptr);
    });
    get("/sdapi/v1/scripts", [] { return Json{{"txt2img", Json::array()}, {"img2img", Json::array()}}; });
    get("/sdapi/v1/cmd-flags", [] { return Json::object(); });
}

}  // namespace difu::server
