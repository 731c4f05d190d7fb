#include "server/webui_response.h"

#include "io/image.h"
#include "sampling/sampler_names.h"
#include "server/base64.h"

namespace difu::server {
namespace {

// webui's Processed.js() lists one prompt per image.
Json repeated(const std::string& s, size_t n) { return Json(std::vector<std::string>(n, s)); }

std::string schedule_label(const GenerateRequest& r, const SamplerChoice& sc) {
    if (is_compvis(sc.kind)) return "";
    const std::string label = scheduler_label(effective_scheduler(sc, parse_scheduler(r.scheduler)));
    return label.empty() ? "Automatic" : label;
}

}  // namespace

Json generation_info(const WebuiRequest& req, const GenerationOutcome& out, const ModelInfo& model) {
    const GenerateRequest& r = req.request;
    const SamplerChoice sc = parse_sampler(r.sampler);
    const size_t n = out.images.size();
    Json seeds = Json::array(), subseeds = Json::array(), infotexts = Json::array(), nsfw = Json::array();
    for (const GeneratedImage& g : out.images) {
        nsfw.push_back(g.nsfw);  // diffusers' nsfw_content_detected: false unless a safety checker flagged it
        seeds.push_back(g.seed);  // CPU rng: the batch's seed (image batch_pos of randn(batch)); GPU: its own
        subseeds.push_back(g.subseed);
        infotexts.push_back(g.infotext);
    }
    const bool img2img = r.init_image.has_value();
    return {
        {"prompt", r.prompt}, {"all_prompts", repeated(r.prompt, n)},
        {"negative_prompt", r.negative_prompt}, {"all_negative_prompts", repeated(r.negative_prompt, n)},
        {"seed", out.seed}, {"all_seeds", seeds}, {"subseed", out.images.empty() ? Json(r.variation.subseed) : subseeds[0]},
        {"all_subseeds", subseeds}, {"subseed_strength", r.variation.strength}, {"width", r.width}, {"height", r.height},
        {"sampler_name", sampler_label(sc.kind)}, {"scheduler", schedule_label(r, sc)},
        {"cfg_scale", r.cfg_scale}, {"steps", r.steps}, {"batch_size", r.batch_size}, {"n_iter", r.batch_count},
        {"restore_faces", false}, {"face_restoration_model", nullptr},
        {"sd_model_name", model.model_name}, {"sd_model_hash", model.hash}, {"sd_vae_name", model.vae_name.empty() ? Json(nullptr) : Json(model.vae_name)},
        {"sd_vae_hash", model.vae_hash.empty() ? Json(nullptr) : Json(model.vae_hash)},
        {"seed_resize_from_w", r.variation.resizes() ? r.variation.resize_from_width : -1},
        {"seed_resize_from_h", r.variation.resizes() ? r.variation.resize_from_height : -1},
        {"denoising_strength", img2img ? Json(r.strength) : Json(nullptr)},
        {"extra_generation_params", Json::object()}, {"index_of_first_image", 0}, {"infotexts", infotexts},
        {"styles", Json::array()}, {"job_timestamp", out.job_timestamp}, {"clip_skip", r.clip_skip},
        {"is_using_inpainting_conditioning", false}, {"randn_source", rng_label(r.rng)},
        {"version", std::string("difu ") + DIFU_VERSION},
        {"ignored_fields", req.ignored_fields}, {"interrupted", out.interrupted}, {"nsfw_content_detected", nsfw},
        {"skipped_batches", out.skipped_batches},
        {"times", {{"text", out.times.text}, {"sampling", out.times.sampling}, {"decode", out.times.decode}}},
    };
}

Json generation_response(const WebuiRequest& req, const GenerationOutcome& out, const ModelInfo& model) {
    Json images = Json::array();
    if (req.send_images)
        for (const GeneratedImage& g : out.images) images.push_back(base64_encode(encode_png(g.image, {{"parameters", g.infotext}})));
    const Json info = generation_info(req, out, model);
    return {{"images", images}, {"parameters", req.parameters},
            {"info", info.dump(-1, ' ', false, Json::error_handler_t::replace)}};
}

}  // namespace difu::server
