#include "server/webui_request.h"

#include <cctype>
#include <limits>

#include "pipeline/hires.h"
#include "pipeline/refiner.h"
#include "sampling/sampler_names.h"
#include "server/api_error.h"
#include "server/base64.h"
#include "server/options_store.h"

namespace difu::server {
namespace {

constexpr const char* kWebuiDefaultSampler = "Euler";  // webui's sampler_index default
constexpr double kAncestralEta = 1.0;                   // difu's ancestral samplers draw full-variance noise

// The settings a request does not carry itself: the server's options, then the request's
// override_settings over them (webui applies those to this one request only).
struct Settings {
    int clip_skip = 1;
    double eta_ddim = 0;
    RngSource rng = RngSource::Gpu;  // webui's default randn_source, "GPU"
    std::optional<std::string> checkpoint;  // sd_model_checkpoint
    std::optional<std::string> vae;         // sd_vae
    double inpainting_mask_weight = 1.0;    // an inpainting UNet's conditioning mask strength
    double initial_noise_multiplier = 1.0;  // img2img's noise scale (a request's own field wins)
};

bool applied_option(const std::string& key) {
    return key == "randn_source" || key == "CLIP_stop_at_last_layers" || key == "eta_ddim" || key == "sd_model_checkpoint" ||
           key == "sd_vae" || key == "inpainting_mask_weight" || key == "initial_noise_multiplier";
}

void apply_settings(const Json& object, const std::string& where, Settings& s) {
    const FieldReader f(object, where);
    if (auto v = f.integer("CLIP_stop_at_last_layers", 1, 12)) s.clip_skip = static_cast<int>(*v);
    if (auto v = f.number("eta_ddim")) s.eta_ddim = *v;
    if (auto v = f.string("randn_source")) s.rng = parse_rng_source(*v);  // check_option let only known names through
    if (auto v = f.string("sd_model_checkpoint")) s.checkpoint = *v;
    if (auto v = f.string("sd_vae")) s.vae = *v;
    if (auto v = f.number("inpainting_mask_weight")) s.inpainting_mask_weight = *v;
    if (auto v = f.number("initial_noise_multiplier")) s.initial_noise_multiplier = *v;
}

Settings read_settings(const Json& options, const Json* overrides, const Resolvers& names,
                       std::vector<std::string>& ignored) {
    Settings s;
    apply_settings(options, "options.", s);
    if (!overrides) return s;
    for (const auto& [key, value] : overrides->items()) {
        check_option(key, value, names, "override_settings.");
        if (!applied_option(key)) ignored.push_back("override_settings." + key);
    }
    apply_settings(*overrides, "override_settings.", s);
    return s;
}

// sampler_name, else webui's older sampler_index, else "Euler"; a label may carry the schedule.
SamplerChoice read_sampler(const FieldReader& f, GenerateRequest& r) {
    const char* field = f.has("sampler_name") ? "sampler_name" : "sampler_index";
    r.sampler = f.string(field).value_or(kWebuiDefaultSampler);
    r.scheduler = f.string("scheduler").value_or("automatic");  // webui's default: the sampler's own
    try {
        (void)parse_scheduler(r.scheduler);
    } catch (const Error& e) {
        throw bad_request(fmt::format("scheduler: {}", e.what()));
    }
    try {
        return parse_sampler(r.sampler);
    } catch (const Error& e) {
        throw bad_request(fmt::format("{}: {}", field, e.what()));
    }
}

// webui's eta means DDIM's eta (default: the eta_ddim option) or, for the ancestral samplers, the
// ancestral noise scale, which difu keeps at 1.
void read_eta(const FieldReader& f, const SamplerChoice& sc, const Settings& s, GenerateRequest& r,
              std::vector<std::string>& ignored) {
    const std::optional<double> eta = f.number("eta");
    if (is_compvis(sc.kind)) r.eta = static_cast<float>(eta.value_or(s.eta_ddim));
    else if (eta && is_ancestral(sc.kind) && *eta != kAncestralEta) ignored.push_back("eta");
}

// The inpainting fields at webui's API defaults (StableDiffusionProcessingImg2Img): mask blur 4,
// masked content "fill", "Only masked" with no padding.
void read_inpainting(const FieldReader& f, const Settings& s, GenerateRequest& r) {
    constexpr int kWebuiMaskBlur = 4, kMaxMaskBlur = 256, kMaxPadding = 16384;
    InpaintOptions& o = r.inpaint;
    o.blur_x = static_cast<int>(f.integer("mask_blur_x", 0, kMaxMaskBlur).value_or(kWebuiMaskBlur));
    o.blur_y = static_cast<int>(f.integer("mask_blur_y", 0, kMaxMaskBlur).value_or(kWebuiMaskBlur));
    if (auto both = f.integer("mask_blur", 0, kMaxMaskBlur)) o.blur_x = o.blur_y = static_cast<int>(*both);  // webui's setter
    o.fill = static_cast<InpaintFill>(f.integer("inpainting_fill", 0, 3).value_or(0));
    o.only_masked = f.flag("inpaint_full_res").value_or(true);
    o.only_masked_padding = static_cast<int>(f.integer("inpaint_full_res_padding", 0, kMaxPadding).value_or(0));
    o.invert = f.integer("inpainting_mask_invert", 0, 1).value_or(0) == 1;
    o.mask_weight = static_cast<float>(s.inpainting_mask_weight);
    o.round = f.flag("mask_round").value_or(true);
}

void read_init_images(const FieldReader& f, const Settings& s, GenerateRequest& r) {
    const Json* images = f.array("init_images");
    if (!images || images->empty()) throw bad_request("init_images: img2img needs at least one image (base64 or data URL)");
    // webui: one picture starts every image of the batch; several start one image each, and the batch
    // size becomes their count (more than batch_size is an error there too).
    if (static_cast<int>(images->size()) > r.batch_size)
        throw bad_request(fmt::format("init_images: {} pictures for a batch size of {}; give at most batch_size of them",
                                      images->size(), r.batch_size));
    for (size_t i = 0; i < images->size(); ++i) {
        const Json& item = (*images)[i];
        const std::string name = fmt::format("init_images[{}]", i);
        if (!item.is_string()) throw bad_request(name + ": expected a string, got " + describe_json(item));
        Image img = decode_base64_image(item.get<std::string>(), name);
        if (i == 0) r.init_image = std::move(img);
        else r.more_init_images.push_back(std::move(img));
    }
    if (!r.more_init_images.empty()) r.batch_size = static_cast<int>(images->size());
    r.resize_mode = static_cast<ResizeMode>(f.integer("resize_mode", 0, 3).value_or(0));
    if (auto mask = f.string("mask"); mask && !mask->empty()) {  // white = repaint, as webui
        r.mask = decode_base64_image(*mask, "mask");
        read_inpainting(f, s, r);
    }
    const std::optional<double> noise = f.number("initial_noise_multiplier");
    r.initial_noise_multiplier = static_cast<float>(noise.value_or(s.initial_noise_multiplier));
}

void read_fields(const FieldReader& f, GenerationKind kind, GenerateRequest& r) {
    r.prompt = f.string("prompt").value_or("");
    r.negative_prompt = f.string("negative_prompt").value_or("");
    r.seed = f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()).value_or(kRandomSeed);
    constexpr int kWebuiDefaultSide = 512;  // webui's API default
    for (auto [key, side] : {std::pair{"width", &r.width}, {"height", &r.height}}) {
        *side = f.int32(key).value_or(kWebuiDefaultSide);
        // The pipeline reads 0 as "the model's default size"; webui's API has no such value.
        if (*side == kModelDefaultSize) throw bad_request(fmt::format("{}: 0 is not an image size", key));
    }
    r.steps = f.int32("steps").value_or(50);
    // A double past float's range becomes infinity here, which validate_request refuses.
    r.cfg_scale = static_cast<float>(f.number("cfg_scale").value_or(7.0));
    r.batch_size = f.int32("batch_size").value_or(1);
    r.batch_count = f.int32("n_iter").value_or(1);
    r.variation.subseed = f.integer("subseed", -1, std::numeric_limits<int64_t>::max()).value_or(kRandomSeed);
    r.variation.strength = static_cast<float>(f.number("subseed_strength").value_or(0.0));
    // webui's -1 (and 0) mean "off"
    r.variation.resize_from_width = std::max(0, f.int32("seed_resize_from_w").value_or(0));
    r.variation.resize_from_height = std::max(0, f.int32("seed_resize_from_h").value_or(0));
    if (kind == GenerationKind::Img2Img) r.strength = static_cast<float>(f.number("denoising_strength").value_or(0.75));
    if (kind == GenerationKind::Txt2Img && f.boolean("enable_hr").value_or(false)) {  // webui's hires fix
        HiresFix h;
        h.scale = static_cast<float>(f.number("hr_scale").value_or(2.0));
        h.resize_width = std::max(0, f.int32("hr_resize_x").value_or(0));
        h.resize_height = std::max(0, f.int32("hr_resize_y").value_or(0));
        h.upscaler = f.string("hr_upscaler").value_or("Latent");
        h.steps = std::max(0, f.int32("hr_second_pass_steps").value_or(0));
        h.denoising_strength = static_cast<float>(f.number("denoising_strength").value_or(0.75));
        h.sampler = f.string("hr_sampler_name").value_or("");
        if (h.sampler == "Use same sampler") h.sampler.clear();
        // webui: an empty hr prompt is the prompt
        if (auto p = f.string("hr_prompt"); p && !p->empty()) h.prompt = *p;
        if (auto p = f.string("hr_negative_prompt"); p && !p->empty()) h.negative_prompt = *p;
        try {
            (void)parse_hires_upscaler(h.upscaler);
            if (!h.sampler.empty()) (void)parse_sampler(h.sampler);
        } catch (const Error& e) {
            throw bad_request(fmt::format("hires fix: {}", e.what()));
        }
        r.hires = h;
    }
}

// webui's refiner_checkpoint ("", "None" or null: none) and refiner_switch_at (null: webui's UI default).
void read_refiner(const FieldReader& f, const ModelInfo* refiner, GenerateRequest& r) {
    const std::optional<std::string> name = f.string("refiner_checkpoint");
    if (!name || name->empty() || *name == "None") return;
    if (!refiner)
        throw bad_request(fmt::format("refiner_checkpoint: '{}' is not loaded; this server has no refiner (difu serve --refiner MODEL)",
                                      *name));
    if (!names_model(*refiner, *name))
        throw bad_request(fmt::format("refiner_checkpoint: '{}' is not loaded; this server's refiner is '{}'", *name, refiner->title));
    r.refiner_switch_at = static_cast<float>(f.number("refiner_switch_at").value_or(kDefaultRefinerSwitch));
}

Json echo_parameters(const Json& body, GenerationKind kind, bool include_init_images) {
    Json p = webui_defaults(kind);
    for (const auto& [key, value] : body.items())
        if (p.contains(key)) p[key] = value;
    if (kind == GenerationKind::Img2Img && !include_init_images) {  // webui drops them unless asked to echo them
        p["init_images"] = nullptr;
        p["mask"] = nullptr;
    }
    return p;
}

}  // namespace

Image decode_base64_image(const std::string& text, const std::string& name) {
    const std::string_view payload = strip_data_url(text);
    if (payload.empty()) throw bad_request(name + ": empty image");
    try {
        const std::vector<uint8_t> bytes = base64_decode(payload, name);
        return decode_image(name, bytes);
    } catch (const ApiError&) {
        throw;
    } catch (const Error& e) {  // bad base64, or bytes that are no PNG / JPEG / WebP difu can read
        throw bad_request(e.what());
    }
}

WebuiRequest parse_webui_request(const Json& body, GenerationKind kind, const Json& options, const ModelInfo& first,
                                 const Resolvers& names, const ServerLimits& limits, const ModelInfo* refiner,
                                 const LoraLibrary* loras) {
    WebuiRequest out;
    GenerateRequest& r = out.request;
    const FieldReader f(body);
    out.ignored_fields = ignored_fields(body, kind);
    read_fields(f, kind, r);
    const Settings s = read_settings(options, f.object("override_settings"), names, out.ignored_fields);
    {  // webui's live previews: on unless live_previews_enable is false, every show_progress_every_n_steps (-1: never)
        const FieldReader o(options, "options.");
        const bool enabled = o.boolean("live_previews_enable").value_or(true);
        const int64_t every = o.integer("show_progress_every_n_steps", -1, 1000).value_or(10);
        out.preview.every = enabled && every > 0 ? static_cast<int>(every) : 0;
        std::string format = o.string("live_previews_image_format").value_or("png");
        for (char& c : format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.preview.format = format == "jpeg" || format == "webp" ? format : "png";
        out.preview.combined = o.string("live_preview_content").value_or("Prompt") == "Combined";
    }
    out.model = first;
    if (s.vae && *s.vae != kVaeAutomatic) {
        if (*s.vae == kVaeNone) out.vae = "";
        else if (auto path = names.vae ? names.vae(*s.vae) : std::nullopt) out.vae = *path;
        else throw bad_request(fmt::format("sd_vae: no VAE '{}' (refresh-vae removed it?)", *s.vae));
    }
    if (s.checkpoint) {
        const std::optional<ModelInfo> m = names.checkpoint(*s.checkpoint);
        if (!m) throw bad_request(fmt::format("sd_model_checkpoint: no checkpoint '{}' (refresh-checkpoints removed it?)", *s.checkpoint));
        out.model = *m;
    }
    const SamplerChoice sc = read_sampler(f, r);
    read_refiner(f, refiner, r);
    if (r.refiner_switch_at && out.model.filename != first.filename)
        throw bad_request(fmt::format("refiner_checkpoint: the refiner (difu serve --refiner) follows the --model checkpoint "
                                      "'{}' only, not '{}'", first.title, out.model.title));
    read_eta(f, sc, s, r, out.ignored_fields);
    r.rng = s.rng;
    r.clip_skip = s.clip_skip;
    out.send_images = f.boolean("send_images").value_or(true);
    const bool include_init_images = kind == GenerationKind::Img2Img && f.boolean("include_init_images").value_or(false);
    if (r.batch_count < 1 || r.batch_count > limits.max_batch_count)
        throw bad_request(fmt::format("n_iter must be between 1 and {}, got {}", limits.max_batch_count, r.batch_count));
    try {
        add_prompt_loras(r, loras);  // webui's extra networks: the prompt's <lora:...> tags
        validate_request(r, limits.request);  // sizes, steps, cfg, batch size, seed, strength: one message each
    } catch (const Error& e) {
        throw bad_request(e.what());
    }
    // The picture last: decoding is the costly check, and a request with a bad field never pays it.
    if (kind == GenerationKind::Img2Img) read_init_images(f, s, r);
    out.parameters = echo_parameters(body, kind, include_init_images);
    return out;
}

}  // namespace difu::server
