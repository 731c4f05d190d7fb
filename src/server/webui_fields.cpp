#include "server/webui_fields.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace difu::server {
namespace {

// webui 1.10's defaults (GET /docs of a stock install); Optional fields without a default are null.
constexpr const char* kCommonDefaults = R"({
  "prompt": "", "negative_prompt": "", "styles": null, "seed": -1, "subseed": -1, "subseed_strength": 0,
  "seed_resize_from_h": -1, "seed_resize_from_w": -1, "sampler_name": null, "scheduler": null,
  "batch_size": 1, "n_iter": 1, "steps": 50, "cfg_scale": 7.0, "width": 512, "height": 512,
  "restore_faces": null, "tiling": null, "do_not_save_samples": false, "do_not_save_grid": false,
  "eta": null, "s_min_uncond": null, "s_churn": null, "s_tmax": null, "s_tmin": null, "s_noise": null,
  "override_settings": null, "override_settings_restore_afterwards": true, "refiner_checkpoint": null,
  "refiner_switch_at": null, "disable_extra_networks": false, "comments": null, "force_task_id": null,
  "sampler_index": "Euler", "script_name": null, "script_args": [], "send_images": true, "save_images": false,
  "alwayson_scripts": {}, "infotext": null
})";
constexpr const char* kTxt2ImgDefaults = R"({
  "denoising_strength": null, "firstpass_image": null, "enable_hr": false, "firstphase_width": 0,
  "firstphase_height": 0, "hr_scale": 2.0, "hr_upscaler": null, "hr_second_pass_steps": 0, "hr_resize_x": 0,
  "hr_resize_y": 0, "hr_checkpoint_name": null, "hr_sampler_name": null, "hr_scheduler": null, "hr_prompt": "",
  "hr_negative_prompt": ""
})";
constexpr const char* kImg2ImgDefaults = R"({
  "init_images": null, "resize_mode": 0, "denoising_strength": 0.75, "image_cfg_scale": null, "mask": null,
  "mask_blur_x": 4, "mask_blur_y": 4, "mask_blur": null, "mask_round": true, "inpainting_fill": 0,
  "inpaint_full_res": true, "inpaint_full_res_padding": 0, "inpainting_mask_invert": 0,
  "initial_noise_multiplier": null, "latent_mask": null, "include_init_images": false
})";

// Fields difu reads and applies (server/webui_request.cpp); everything else is looked up in kRules.
constexpr std::string_view kApplied[] = {"prompt", "negative_prompt", "seed", "sampler_name", "sampler_index",
                                         "scheduler", "batch_size", "n_iter", "steps", "cfg_scale", "width",
                                         "height", "eta", "override_settings", "send_images",
                                         "refiner_checkpoint", "refiner_switch_at", "subseed", "subseed_strength",
                                         "seed_resize_from_w", "seed_resize_from_h"};
constexpr std::string_view kAppliedTxt2Img[] = {"enable_hr", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x",
                                                "hr_resize_y", "hr_sampler_name", "hr_prompt", "hr_negative_prompt",
                                                "denoising_strength"};
constexpr std::string_view kAppliedImg2Img[] = {"init_images", "denoising_strength", "include_init_images", "mask",
                                                "inpainting_mask_invert", "mask_blur_x", "mask_blur_y", "mask_blur",
                                                "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding",
                                                "initial_noise_multiplier", "resize_mode", "mask_round"};

// A field difu does not apply. `noops`: the values (JSON, '|'-separated) with which webui would not
// use it either; "*" = it never changes an image (bookkeeping flags); "" = every value matters.
// `needs`: the field only matters when this other field is set (hr_* without enable_hr is inert in webui).
struct Rule {
    const char* name;
    const char* noops;
    const char* needs = nullptr;
};
constexpr Rule kRules[] = {
    {"styles", "[]"},
    {"restore_faces", "false"}, {"tiling", "false"},
    {"do_not_save_samples", "*"}, {"do_not_save_grid", "*"}, {"s_min_uncond", "0"}, {"s_churn", "0"},
    {"s_tmax", "0"}, {"s_tmin", "0"}, {"s_noise", "1"}, {"override_settings_restore_afterwards", "true"},
    {"disable_extra_networks", "*"}, {"comments", "*"}, {"force_task_id", "*"}, {"script_name", R"(""|"None")"},
    {"script_args", "[]", "script_name"}, {"alwayson_scripts", "{}"}, {"infotext", R"("")"}, {"save_images", "false"},
    // txt2img: the hires fix's parts difu does not have
    {"firstphase_width", "0", "enable_hr"}, {"firstphase_height", "0", "enable_hr"},
    {"hr_checkpoint_name", R"(""|"Use same checkpoint")", "enable_hr"}, {"hr_scheduler", R"(""|"Use same scheduler")", "enable_hr"},
    {"firstpass_image", ""},
    // img2img: no separate latent mask; no instruct-pix2pix
    {"image_cfg_scale", "*"}, {"latent_mask", ""},
};

Json make_defaults(const char* kind_defaults) {
    Json j = Json::parse(kCommonDefaults);
    j.update(Json::parse(kind_defaults));
    return j;
}

// Python's truthiness, which webui's `if p.enable_hr:` checks use.
bool truthy(const Json& v) {
    if (v.is_null()) return false;
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v.get<double>() != 0;
    if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
    return true;
}

bool is_noop(const Rule& rule, const Json& value) {
    const std::string_view noops = rule.noops;
    if (noops == "*") return true;
    size_t start = 0;
    while (!noops.empty() && start <= noops.size()) {
        const size_t bar = std::min(noops.find('|', start), noops.size());
        if (Json::parse(noops.substr(start, bar - start)) == value) return true;  // 2 == 2.0 in nlohmann
        start = bar + 1;
    }
    return false;
}

bool applied(std::string_view key, GenerationKind kind) {
    auto in = [&](const auto& list) { return std::find(std::begin(list), std::end(list), key) != std::end(list); };
    return in(kApplied) || (kind == GenerationKind::Img2Img && in(kAppliedImg2Img)) ||
           (kind == GenerationKind::Txt2Img && in(kAppliedTxt2Img));
}

const Rule* find_rule(std::string_view key) {
    for (const Rule& r : kRules)
        if (key == r.name) return &r;
    return nullptr;
}

}  // namespace

const Json& webui_defaults(GenerationKind kind) {
    static const Json txt2img = make_defaults(kTxt2ImgDefaults), img2img = make_defaults(kImg2ImgDefaults);
    return kind == GenerationKind::Txt2Img ? txt2img : img2img;
}

std::vector<std::string> ignored_fields(const Json& body, GenerationKind kind) {
    std::vector<std::string> out;
    const Json& defaults = webui_defaults(kind);
    for (const auto& [key, value] : body.items()) {
        if (applied(key, kind) || value.is_null()) continue;
        const Rule* rule = defaults.contains(key) ? find_rule(key) : nullptr;
        if (!rule) {  // not part of webui's model for this route (a typo, or another tool's field)
            out.push_back(key);
            continue;
        }
        if (rule->needs && !truthy(body.value(rule->needs, Json()))) continue;
        if (!is_noop(*rule, value)) out.push_back(key);
    }
    return out;
}

}  // namespace difu::server
