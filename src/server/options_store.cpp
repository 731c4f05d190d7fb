#include "server/options_store.h"

#include <cctype>

#include "server/api_error.h"

namespace difu::server {
namespace {

bool equals_ignore_case(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
}

}  // namespace

void check_option(const std::string& key, const Json& value, const Resolvers& names, const std::string& where) {
    const Json holder = {{key, value}};
    const FieldReader f(holder, where);
    if (key == "randn_source") {
        const auto v = f.string("randn_source");
        if (v && !equals_ignore_case(*v, "CPU") && !equals_ignore_case(*v, "GPU") && !equals_ignore_case(*v, "NV"))
            throw bad_request(fmt::format("{}randn_source: '{}' is not one of webui's \"GPU\", \"CPU\", \"NV\"", where, *v));
    } else if (key == "CLIP_stop_at_last_layers") {
        (void)f.integer("CLIP_stop_at_last_layers", 1, 12);
    } else if (key == "eta_ddim") {
        const auto v = f.number("eta_ddim");
        if (v && !(*v >= 0 && *v <= 1)) throw bad_request(fmt::format("{}eta_ddim: must be between 0 and 1, got {}", where, *v));
    } else if (key == "inpainting_mask_weight" || key == "initial_noise_multiplier") {  // webui's slider ranges
        const double most = key == "inpainting_mask_weight" ? 1.0 : 1.5;
        const auto v = f.number(key.c_str());
        if (v && !(*v >= 0 && *v <= most)) throw bad_request(fmt::format("{}{}: must be between 0 and {}, got {}", where, key, most, *v));
    } else if (key == "sd_model_checkpoint") {
        const auto v = f.string("sd_model_checkpoint");
        if (v && !names.checkpoint(*v))
            throw bad_request(fmt::format("{}sd_model_checkpoint: no checkpoint '{}' (GET /sdapi/v1/sd-models lists them; "
                                          "difu serve --models-dir DIR serves a folder of them)", where, *v));
    } else if (key == "sd_vae") {
        const auto v = f.string("sd_vae");
        if (v && *v != kVaeAutomatic && *v != kVaeNone && !(names.vae && names.vae(*v)))
            throw bad_request(fmt::format("{}sd_vae: no VAE '{}' (\"Automatic\", \"None\" or a file GET /sdapi/v1/sd-vae lists; "
                                          "difu serve --vae-dir DIR serves a folder of them)", where, *v));
    }
}

OptionsStore::OptionsStore(const ModelInfo& model, Resolvers names) : names_(std::move(names)) {
    // The settings webui clients read on start-up, at webui's defaults (and the loaded model).
    values_ = {
        {"sd_model_checkpoint", model.title},
        {"sd_checkpoint_hash", model.sha256},
        {"randn_source", "GPU"},  // webui's default: NVIDIA's numbers (difu's philox emulation, as "NV")
        {"CLIP_stop_at_last_layers", 1},
        {"eta_ddim", 0.0},
        {"eta_ancestral", 1.0},
        {"samples_format", "png"},
        {"enable_pnginfo", true},
        {"sd_vae", kVaeAutomatic},
        // webui's own API test reads send_seed before writing its negation back
        {"send_seed", true},
        {"send_size", true},
        {"live_previews_enable", true},
        {"show_progress_every_n_steps", 10},
        {"inpainting_mask_weight", 1.0},
        {"initial_noise_multiplier", 1.0},
    };
}

Json OptionsStore::get() const {
    std::lock_guard lock(mutex_);
    return values_;
}

void OptionsStore::update(const Json& changes) {
    if (!changes.is_object()) throw bad_request("options must be a JSON object, got " + describe_json(changes));
    for (const auto& [key, value] : changes.items()) check_option(key, value, names_, "");
    std::lock_guard lock(mutex_);
    Json next = values_;
    next.update(changes);
    if (next.size() > kMaxOptionKeys)
        throw bad_request(fmt::format("options would hold {} keys; difu keeps at most {}", next.size(), kMaxOptionKeys));
    const size_t bytes = next.dump().size();
    if (bytes > kMaxOptionsBytes)
        throw bad_request(fmt::format("options would take {} bytes as JSON; difu keeps at most {}", bytes, kMaxOptionsBytes));
    values_ = std::move(next);
}

}  // namespace difu::server
