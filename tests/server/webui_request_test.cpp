// tests/server/webui_request_test.cpp — webui's JSON as a GenerateRequest: webui's defaults, its
// aliases and settings, the fields named as ignored, and a field-naming 400 for each wrong value.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/base64.h"
#include "server/options_store.h"
#include "server/webui_request.h"
#include "test_support.h"

using namespace difu;
using namespace difu::server;

namespace {

const ModelInfo& model() {
    static const ModelInfo m{"model.safetensors [2b80e894a9]", "model", "2b80e894a9", std::string(64, 'a'), "/m/model.safetensors"};
    return m;
}

// A server with one checkpoint: it answers to webui's names of it.
std::optional<ModelInfo> find_model(const std::string& name) {
    return names_model(model(), name) ? std::optional<ModelInfo>(model()) : std::nullopt;
}

WebuiRequest parse(const Json& body, GenerationKind kind = GenerationKind::Txt2Img, const Json& options = Json::object()) {
    return parse_webui_request(body, kind, options, model(), Resolvers(find_model), ServerLimits{});
}

// The 400's detail, or "" when the body was accepted.
std::string refusal(const Json& body, GenerationKind kind = GenerationKind::Txt2Img) {
    try {
        (void)parse(body, kind);
        return "";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 400);
        return e.what();
    }
}

}  // namespace

TEST(ServerWebuiRequest, AnEmptyBodyGetsWebuisDefaults) {
    const WebuiRequest w = parse(Json::object());
    const GenerateRequest& r = w.request;
    EXPECT_EQ(r.steps, 50);
    EXPECT_EQ(r.cfg_scale, 7.0f);
    EXPECT_EQ(r.width, 512);
    EXPECT_EQ(r.height, 512);
    EXPECT_EQ(r.sampler, "Euler");
    EXPECT_EQ(r.seed, -1);
    EXPECT_EQ(r.batch_size, 1);
    EXPECT_EQ(r.batch_count, 1);
    EXPECT_EQ(r.clip_skip, 1);
    EXPECT_EQ(r.rng, RngSource::Gpu);  // webui's default randn_source, "GPU"
    EXPECT_TRUE(w.ignored_fields.empty());
    EXPECT_EQ(w.parameters["steps"], 50);
    EXPECT_EQ(w.parameters["sampler_index"], "Euler");
}

TEST(ServerWebuiRequest, WebuisOwnDefaultsSentBackChangeNothingAndAreNotListed) {
    for (GenerationKind kind : {GenerationKind::Txt2Img, GenerationKind::Img2Img}) {
        Json body = webui_defaults(kind);
        if (kind == GenerationKind::Img2Img) {
            const std::string png = base64_encode(encode_png(Image{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 128)}));
            body["init_images"] = {png};
        }
        const WebuiRequest w = parse(body, kind);
        EXPECT_TRUE(w.ignored_fields.empty()) << w.ignored_fields.front();
    }
}

TEST(ServerWebuiRequest, FieldsMapWithAliasesAndSettings) {
    const Json body = {{"prompt", "a cat"}, {"negative_prompt", "blurry"}, {"steps", 20.0}, {"cfg_scale", 5.5},
                       {"width", 128}, {"height", 64}, {"seed", 4294967295LL}, {"sampler_index", "DPM++ 2M Karras"},
                       {"n_iter", 2}, {"batch_size", 3},
                       {"override_settings", {{"CLIP_stop_at_last_layers", 2}, {"randn_source", "cpu"}, {"sd_hypernetwork", "x"}}}};
    const WebuiRequest w = parse(body);
    const GenerateRequest& r = w.request;
    EXPECT_EQ(r.prompt, "a cat");
    EXPECT_EQ(r.negative_prompt, "blurry");
    EXPECT_EQ(r.steps, 20);
    EXPECT_EQ(r.cfg_scale, 5.5f);
    EXPECT_EQ(r.width, 128);
    EXPECT_EQ(r.height, 64);
    EXPECT_EQ(r.seed, 4294967295LL);
    EXPECT_EQ(r.sampler, "DPM++ 2M Karras");
    EXPECT_EQ(r.batch_count, 2);
    EXPECT_EQ(r.batch_size, 3);
    EXPECT_EQ(r.clip_skip, 2);
    EXPECT_EQ(w.ignored_fields, (std::vector<std::string>{"override_settings.sd_hypernetwork"}));
    // sd_vae: "Automatic" leaves the choice to the server, "None" is the checkpoint's own, a name must be a file.
    EXPECT_FALSE(w.vae.has_value());
    EXPECT_EQ(parse({{"override_settings", {{"sd_vae", "None"}}}}).vae, std::optional<std::string>(""));
    EXPECT_FALSE(parse({{"override_settings", {{"sd_vae", "Automatic"}}}}).vae.has_value());
    EXPECT_THROW(parse({{"override_settings", {{"sd_vae", "x.safetensors"}}}}), ApiError);
    // sampler_name wins over sampler_index; options fill what override_settings does not say.
    const WebuiRequest v = parse({{"sampler_name", "DDIM"}, {"sampler_index", "Heun"}}, GenerationKind::Txt2Img,
                                 {{"CLIP_stop_at_last_layers", 3}, {"eta_ddim", 0.25}});
    EXPECT_EQ(v.request.sampler, "DDIM");
    EXPECT_EQ(v.request.clip_skip, 3);
    EXPECT_FLOAT_EQ(v.request.eta, 0.25f);
}

TEST(ServerWebuiRequest, UnappliedFieldsAreListedOnlyWhenTheyWouldChangeTheImage) {
    const Json body = {{"enable_hr", true}, {"hr_scale", 2}, {"tiling", false}, {"restore_faces", true},
                       {"styles", Json::array()}, {"script_name", "x/y/z plot"}, {"script_args", {1, 2}},
                       {"subseed", 7}, {"subseed_strength", 0}, {"mask_blur", 4}, {"do_not_save_grid", true},
                       {"eta", 0.5}, {"sampler_name", "Euler a"}, {"frobnicate", 1}};
    const WebuiRequest w = parse(body);
    // sorted by name; eta is listed because difu's ancestral samplers keep eta 1
    EXPECT_EQ(w.ignored_fields, (std::vector<std::string>{"frobnicate", "mask_blur", "restore_faces", "script_args",
                                                          "script_name", "eta"}));  // mask_blur: img2img's
    // The hires fix is applied: webui's fields become the request's second pass.
    ASSERT_TRUE(w.request.hires.has_value());
    EXPECT_FLOAT_EQ(w.request.hires->scale, 2.0f);
    EXPECT_EQ(w.request.hires->upscaler, "Latent");
    EXPECT_FLOAT_EQ(w.request.hires->denoising_strength, 0.75f);
    const WebuiRequest hr = parse({{"enable_hr", true}, {"hr_upscaler", "Latent (nearest-exact)"}, {"hr_second_pass_steps", 7},
                                   {"denoising_strength", 0.4}, {"hr_prompt", ""}, {"hr_sampler_name", "DPM++ 2M"},
                                   {"hr_checkpoint_name", "other.safetensors"}});
    EXPECT_EQ(hr.request.hires->steps, 7);
    EXPECT_FALSE(hr.request.hires->prompt.has_value());  // "" is the prompt, as webui
    EXPECT_EQ(hr.request.hires->sampler, "DPM++ 2M");
    EXPECT_EQ(hr.ignored_fields, std::vector<std::string>{"hr_checkpoint_name"});
    EXPECT_FALSE(parse({{"enable_hr", false}, {"hr_scale", 3}}).request.hires.has_value());
    EXPECT_THROW(parse({{"enable_hr", true}, {"hr_upscaler", "ESRGAN_4x"}}), ApiError);
    const WebuiRequest v = parse({{"subseed", 7}, {"subseed_strength", 0.5}});  // variation seeds are applied
    EXPECT_TRUE(v.ignored_fields.empty());
    EXPECT_EQ(v.request.variation.subseed, 7);
    EXPECT_FLOAT_EQ(v.request.variation.strength, 0.5f);
    const WebuiRequest resized = parse({{"seed_resize_from_w", 256}, {"seed_resize_from_h", 320}});
    EXPECT_TRUE(resized.ignored_fields.empty());
    EXPECT_EQ(resized.request.variation.resize_from_width, 256);
    EXPECT_EQ(resized.request.variation.resize_from_height, 320);
    EXPECT_FALSE(parse({{"seed_resize_from_w", -1}, {"seed_resize_from_h", -1}}).request.variation.resizes());
    EXPECT_EQ(parse({{"override_settings", {{"randn_source", "CPU"}}}}).request.rng, RngSource::Cpu);
    EXPECT_EQ(parse({{"override_settings", {{"randn_source", "nv"}}}}).request.rng, RngSource::Gpu);
    EXPECT_EQ(parse(Json::object(), GenerationKind::Txt2Img, {{"randn_source", "CPU"}}).request.rng, RngSource::Cpu);
}

TEST(ServerWebuiRequest, WrongValuesAreRefusedNamingTheField) {
    const std::pair<Json, const char*> cases[] = {
        {{{"prompt", 5}}, "prompt: expected a string, got number 5"},
        {{{"steps", "20"}}, "steps: expected an integer, got string \"20\""},
        {{{"steps", 20.5}}, "steps: expected an integer"},
        {{{"steps", 0}}, "steps must be between 1 and 150"},
        {{{"width", 100}}, "width must be a multiple of 8"},
        {{{"width", 1LL << 40}}, "width: 1099511627776 is out of range"},
        {{{"height", -64}}, "height must be between 64 and 2048"},
        {{{"cfg_scale", 1e39}}, "cfg scale must be between 0 and 100"},
        {{{"sampler_name", "Bogus"}}, "sampler_name: unknown sampler 'Bogus'"},
        {{{"scheduler", "Polyexponential"}}, "scheduler: unknown scheduler 'Polyexponential'"},
        {{{"batch_size", 9}}, "batch size must be between 1 and 8"},
        {{{"n_iter", 9}}, "n_iter must be between 1 and 8"},
        {{{"seed", -2}}, "seed must be -1"},
        {{{"seed", 1e30}}, "seed: expected an integer"},
        {{{"send_images", "yes"}}, "send_images: expected a boolean"},
        {{{"override_settings", {{"randn_source", "TPU"}}}}, "override_settings.randn_source: 'TPU' is not one of"},
        {{{"subseed_strength", 1.5}}, "variation strength must be between 0 and 1"},
        {{{"override_settings", {{"CLIP_stop_at_last_layers", 13}}}}, "override_settings.CLIP_stop_at_last_layers: 13 is out of range"},
        {{{"override_settings", {{"sd_model_checkpoint", "sdxl.safetensors"}}}}, "no checkpoint 'sdxl.safetensors'"},
        {{{"override_settings", "x"}}, "override_settings: expected an object"},
    };
    for (const auto& [body, expected] : cases)
        EXPECT_NE(refusal(body).find(expected), std::string::npos) << body.dump() << " -> " << refusal(body);
}

TEST(ServerWebuiRequest, Img2ImgDecodesTheFirstInitImageAsBase64OrDataUrl) {
    const Image img{64, 32, 3, std::vector<uint8_t>(64 * 32 * 3, 200)};
    const std::string b64 = base64_encode(encode_png(img));
    for (const std::string& text : {b64, "data:image/png;base64," + b64}) {
        const WebuiRequest w = parse({{"init_images", {text}}, {"denoising_strength", 0.5}, {"resize_mode", 2}}, GenerationKind::Img2Img);
        ASSERT_TRUE(w.request.init_image);
        EXPECT_EQ(w.request.init_image->width, 64);
        EXPECT_EQ(w.request.init_image->pixels, img.pixels);
        EXPECT_FLOAT_EQ(w.request.strength, 0.5f);
        EXPECT_EQ(w.request.resize_mode, ResizeMode::ResizeAndFill);
        EXPECT_TRUE(w.ignored_fields.empty());
        EXPECT_TRUE(w.parameters["init_images"].is_null());  // webui echoes them only with include_init_images
    }
    // Several pictures: one per batch position, the batch size their count (webui); more than it: refused.
    const WebuiRequest two = parse({{"init_images", {b64, b64, b64}}, {"batch_size", 4}}, GenerationKind::Img2Img);
    EXPECT_EQ(two.request.batch_size, 3);
    EXPECT_EQ(two.request.more_init_images.size(), 2u);
    EXPECT_NE(refusal({{"init_images", {b64, b64}}}, GenerationKind::Img2Img).find("2 pictures for a batch size of 1"),
              std::string::npos);
    EXPECT_NE(refusal({{"init_images", {b64}}, {"resize_mode", 4}}, GenerationKind::Img2Img).find("resize_mode"), std::string::npos);
    EXPECT_NE(refusal(Json::object(), GenerationKind::Img2Img).find("init_images: img2img needs"), std::string::npos);
    EXPECT_NE(refusal({{"init_images", {"aGVsbG8gd29ybGQ="}}}, GenerationKind::Img2Img).find("init_images[0]: not a PNG"),
              std::string::npos);
    EXPECT_NE(refusal({{"init_images", {"%%%"}}}, GenerationKind::Img2Img).find("init_images[0]: invalid base64"),
              std::string::npos);
}

TEST(ServerWebuiRequest, OptionsKeepEveryKeyAndRefuseWhatDifuCannotDo) {
    OptionsStore store(model(), Resolvers(find_model));
    EXPECT_EQ(store.get()["randn_source"], "GPU");
    EXPECT_EQ(store.get()["sd_model_checkpoint"], model().title);
    store.update({{"some_extension_setting", {1, 2, 3}}, {"CLIP_stop_at_last_layers", 2}, {"sd_model_checkpoint", "model"}});
    EXPECT_EQ(store.get()["some_extension_setting"], Json({1, 2, 3}));
    EXPECT_EQ(store.get()["CLIP_stop_at_last_layers"], 2);
    EXPECT_THROW(store.update({{"randn_source", "TPU"}, {"other", 1}}), ApiError);
    EXPECT_FALSE(store.get().contains("other"));  // all or nothing
    EXPECT_THROW(store.update({{"big", std::string(kMaxOptionsBytes, 'x')}}), ApiError);
    EXPECT_THROW(store.update(Json::array()), ApiError);
}

TEST(ServerWebuiRequest, RefinerFieldsNameTheServersRefiner) {
    const ModelInfo refiner{"refiner.safetensors [7440042bbd]", "refiner", "7440042bbd", std::string(64, 'b'),
                            "/m/refiner.safetensors"};
    auto with_refiner = [&](const Json& body) {
        return parse_webui_request(body, GenerationKind::Txt2Img, Json::object(), model(), Resolvers(find_model), ServerLimits{}, &refiner);
    };
    // None, "" and "None" mean no refiner, as in webui; they are no ignored fields either.
    for (const Json& none : {Json(nullptr), Json(""), Json("None")}) {
        const WebuiRequest w = with_refiner({{"refiner_checkpoint", none}, {"refiner_switch_at", 0.5}});
        EXPECT_FALSE(w.request.refiner_switch_at.has_value());
        EXPECT_TRUE(w.ignored_fields.empty());
    }
    for (const char* name : {"refiner.safetensors [7440042bbd]", "refiner", "7440042bbd"}) {
        const WebuiRequest w = with_refiner({{"refiner_checkpoint", name}, {"refiner_switch_at", 0.6}});
        ASSERT_TRUE(w.request.refiner_switch_at.has_value()) << name;
        EXPECT_FLOAT_EQ(*w.request.refiner_switch_at, 0.6f);
        EXPECT_TRUE(w.ignored_fields.empty());
    }
    EXPECT_FLOAT_EQ(*with_refiner({{"refiner_checkpoint", "refiner"}}).request.refiner_switch_at, 0.8f);  // webui's default
    auto refused = [&](const Json& body, const ModelInfo* r) {
        try {
            (void)parse_webui_request(body, GenerationKind::Txt2Img, Json::object(), model(), Resolvers(find_model), ServerLimits{}, r);
            return std::string();
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status(), 400);
            return std::string(e.what());
        }
    };
    EXPECT_NE(refused({{"refiner_checkpoint", "other"}}, &refiner).find("this server's refiner is 'refiner.safetensors"),
              std::string::npos);
    EXPECT_NE(refused({{"refiner_checkpoint", "refiner"}}, nullptr).find("has no refiner"), std::string::npos);
    EXPECT_NE(refused({{"refiner_checkpoint", "refiner"}, {"refiner_switch_at", 0}}, &refiner).find("refiner switch"),
              std::string::npos);
    EXPECT_NE(refused({{"refiner_checkpoint", "refiner"}, {"refiner_switch_at", "x"}}, &refiner).find("refiner_switch_at"),
              std::string::npos);
}
