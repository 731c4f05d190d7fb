// tests/server/server_api_test.cpp — the server as a webui client uses it, on a loopback port with
// the sd1-tiny model: txt2img / img2img pictures equal to DiffusionPipeline::generate's for the same
// parameters, info and infotexts that describe them, progress while a job runs, interrupt and skip,
// options that read back, the lists clients poll, png-info, metrics and the access log.
#include <atomic>
#include <filesystem>
#include <future>

#include "io/png_info.h"
#include "io/safetensors_writer.h"
#include "models/safety_checker.h"
#include "server/metrics.h"
#include "server_fixture.h"

using namespace difu;
using namespace difu::server;
using namespace difu::server::test;

namespace {

constexpr const char* kPrompt = "a photograph of an astronaut riding a horse";

Json post_json(httplib::Client& cli, const std::string& path, const Json& body, int expect = 200) {
    auto res = cli.Post(path.c_str(), body.dump(), "application/json");
    if (!res) {
        ADD_FAILURE() << path << ": no response (" << httplib::to_string(res.error()) << ")";
        return Json();
    }
    EXPECT_EQ(res->status, expect) << path << ": " << res->body.substr(0, 500);
    return Json::parse(res->body);
}

Json get_json(httplib::Client& cli, const std::string& path) {
    auto res = cli.Get(path.c_str());
    if (!res) {
        ADD_FAILURE() << path << ": no response";
        return Json();
    }
    EXPECT_EQ(res->status, 200) << path << ": " << res->body.substr(0, 500);
    return Json::parse(res->body);
}

GenerateRequest reference_request() {
    GenerateRequest r;
    r.prompt = kPrompt;
    r.negative_prompt = "blurry";
    r.width = r.height = 128;
    r.steps = 4;
    r.seed = 42;
    r.sampler = "Euler a";
    r.rng = RngSource::Gpu;  // the server's default randn_source, webui's "GPU"
    return r;
}

Json txt2img_body() {
    return {{"prompt", kPrompt}, {"negative_prompt", "blurry"}, {"width", 128}, {"height", 128},
            {"steps", 4}, {"seed", 42}, {"sampler_name", "Euler a"}, {"cfg_scale", 7}};
}

// A job long enough to watch (150 steps, seconds), which the test stops.
Json long_body() { return {{"prompt", "slow"}, {"width", 128}, {"height", 128}, {"steps", 150}, {"seed", 1}}; }

}  // namespace

TEST(ServerApi, Txt2ImgAnswersWithThePipelinesPngAndConsistentInfo) {
    const GenerateResult expected = tiny_pipe().generate(reference_request());
    RunningServer s;
    auto cli = s.client();
    const Json res = post_json(cli, "/sdapi/v1/txt2img", txt2img_body());
    ASSERT_EQ(res["images"].size(), 1u);
    const std::vector<uint8_t> png = decode_b64(res["images"][0]);
    const GeneratedImage& want = expected.images.at(0);
    EXPECT_EQ(png, encode_png(want.image, {{"parameters", want.infotext}}));  // byte for byte
    const Image got = decode_image("response", png);
    EXPECT_EQ(got.width, 128);
    EXPECT_EQ(got.pixels, want.image.pixels);
    EXPECT_EQ(decode_png_text("response", png).at(0).second, want.infotext);

    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_EQ(info["prompt"], kPrompt);
    EXPECT_EQ(info["negative_prompt"], "blurry");
    EXPECT_EQ(info["seed"], 42);
    EXPECT_EQ(info["all_seeds"], Json({42}));
    EXPECT_EQ(info["sampler_name"], "Euler a");
    EXPECT_EQ(info["steps"], 4);
    EXPECT_EQ(info["cfg_scale"], 7);
    EXPECT_EQ(info["width"], 128);
    EXPECT_EQ(info["height"], 128);
    EXPECT_EQ(info["sd_model_hash"], "2b80e894a9");
    EXPECT_EQ(info["infotexts"], Json({want.infotext}));
    EXPECT_EQ(info["ignored_fields"], Json::array());
    EXPECT_EQ(info["interrupted"], false);
    const GenerationInfo g = parse_infotext(info["infotexts"][0]);
    EXPECT_EQ(g.prompt, kPrompt);
    EXPECT_EQ(g.steps, 4);
    EXPECT_EQ(g.sampler, "Euler a");
    EXPECT_EQ(g.seed, 42);
    EXPECT_EQ(g.width, 128);
    EXPECT_EQ(g.rng, "NV");  // webui's GPU numbers, as its NV setting names them
    EXPECT_EQ(res["parameters"]["steps"], 4);
    EXPECT_EQ(res["parameters"]["sampler_name"], "Euler a");
    EXPECT_EQ(res["parameters"]["enable_hr"], false);  // webui's defaults fill the echo
}

TEST(ServerApi, BatchesGetTheSeedsOfOneGenerateCallAndIgnoredFieldsAreNamed) {
    GenerateRequest r = reference_request();
    r.steps = 2;
    r.width = r.height = 64;
    r.batch_count = 2;
    r.batch_size = 2;
    r.rng = RngSource::Cpu;  // the request's override_settings below
    const GenerateResult expected = tiny_pipe().generate(r);
    RunningServer s;
    auto cli = s.client();
    Json body = txt2img_body();
    body.update({{"steps", 2}, {"width", 64}, {"height", 64}, {"n_iter", 2}, {"batch_size", 2}, {"s_churn", 0.5},
                 {"tiling", false}, {"restore_faces", true}, {"override_settings", {{"randn_source", "CPU"}}}});
    const Json res = post_json(cli, "/sdapi/v1/txt2img", body);
    ASSERT_EQ(res["images"].size(), 4u);
    const Json info = Json::parse(res["info"].get<std::string>());
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(decode_image("r", decode_b64(res["images"][i])).pixels, expected.images[i].image.pixels) << i;
        EXPECT_EQ(info["all_seeds"][i], expected.images[i].seed);
        EXPECT_EQ(info["infotexts"][i], expected.images[i].infotext);
    }
    EXPECT_EQ(info["all_seeds"], Json({42, 42, 44, 44}));  // CPU: a batch shares its seed's generator
    EXPECT_EQ(info["ignored_fields"], Json({"restore_faces", "s_churn"}));
    body.erase("override_settings");  // webui's GPU numbers: every image its own seed, as webui's all_seeds
    const Json gpu = Json::parse(post_json(cli, "/sdapi/v1/txt2img", body)["info"].get<std::string>());
    EXPECT_EQ(gpu["all_seeds"], Json({42, 43, 44, 45}));
}

TEST(ServerApi, Img2ImgFromTheFixturesInitImageMatchesThePipeline) {
    GenerateRequest r = reference_request();
    r.init_image = read_image(difu::test::fixture_path("sd1-tiny/init_image.png"));
    r.strength = 0.6f;
    r.sampler = "Euler";
    const GenerateResult expected = tiny_pipe().generate(r);
    RunningServer s;
    auto cli = s.client();
    Json body = txt2img_body();
    body.update({{"sampler_name", "Euler"}, {"denoising_strength", 0.6},
                 {"init_images", {"data:image/png;base64," + init_image_base64()}}});
    const Json res = post_json(cli, "/sdapi/v1/img2img", body);
    ASSERT_EQ(res["images"].size(), 1u);
    EXPECT_EQ(decode_image("r", decode_b64(res["images"][0])).pixels, expected.images[0].image.pixels);
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_FLOAT_EQ(info["denoising_strength"].get<float>(), 0.6f);
    EXPECT_EQ(parse_infotext(info["infotexts"][0]).denoising_strength, std::optional<double>(0.6f));
    EXPECT_TRUE(res["parameters"]["init_images"].is_null());
}

TEST(ServerApi, Img2ImgWithAMaskRepaintsOnlyInsideItAsThePipeline) {
    Image mask{128, 128, 3, std::vector<uint8_t>(128 * 128 * 3, 0)};
    for (int y = 16; y < 80; ++y)
        for (int x = 16; x < 80; ++x) std::fill_n(&mask.pixels[(y * 128 + x) * 3], 3, uint8_t{255});
    GenerateRequest r = reference_request();
    r.init_image = read_image(difu::test::fixture_path("sd1-tiny/init_image.png"));
    r.strength = 0.7f;
    r.mask = mask;
    // webui's API defaults: mask blur 4, masked content "fill", "Only masked" without padding.
    r.inpaint.blur_x = r.inpaint.blur_y = 4;
    r.inpaint.fill = InpaintFill::Fill;
    r.inpaint.only_masked = true;
    r.inpaint.only_masked_padding = 0;
    const GenerateResult expected = tiny_pipe().generate(r);
    RunningServer s;
    auto cli = s.client();
    Json body = txt2img_body();
    body.update({{"denoising_strength", 0.7}, {"init_images", {init_image_base64()}},
                 {"mask", base64_encode(encode_png(mask, {}))}, {"mask_blur", 4}});
    const Json res = post_json(cli, "/sdapi/v1/img2img", body);
    const Image got = decode_image("r", decode_b64(res["images"][0]));
    EXPECT_EQ(got.pixels, expected.images[0].image.pixels);
    EXPECT_EQ(got.at(100, 100)[0], r.init_image->at(100, 100)[0]);  // outside the mask: the original
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_EQ(info.dump().find("mask_blur"), std::string::npos) << "applied, so not listed as ignored";
    const std::string infotext = info["infotexts"][0].get<std::string>();
    for (const char* field : {"Mask blur: 4", "Masked content: fill", "Inpaint area: Only masked", "Masked area padding: 0"})
        EXPECT_NE(infotext.find(field), std::string::npos) << field << " in " << infotext;
    // The other choices reach the pipeline too: whole picture, original content, no blur.
    body.update({{"inpaint_full_res", false}, {"inpainting_fill", 1}, {"mask_blur", 0}});
    r.inpaint = InpaintOptions{};
    EXPECT_EQ(decode_image("r", decode_b64(post_json(cli, "/sdapi/v1/img2img", body)["images"][0])).pixels,
              tiny_pipe().generate(r).images[0].image.pixels);
    // mask_round false: the soft latent mask (applied, so not listed as ignored).
    body["mask_round"] = false;
    r.inpaint.round = false;
    const Json soft = post_json(cli, "/sdapi/v1/img2img", body);
    EXPECT_EQ(decode_image("r", decode_b64(soft["images"][0])).pixels, tiny_pipe().generate(r).images[0].image.pixels);
    EXPECT_EQ(Json::parse(soft["info"].get<std::string>())["ignored_fields"], Json::array());
}

TEST(ServerApi, HiresFixGivesThePipelinesSecondPass) {
    GenerateRequest r = reference_request();
    r.width = r.height = 64;
    r.scheduler = "automatic";
    r.hires = HiresFix{};
    r.hires->steps = 2;
    r.hires->denoising_strength = 0.5f;
    const GenerateResult expected = tiny_pipe().generate(r);
    RunningServer s;
    auto cli = s.client();
    Json body = txt2img_body();
    body.update({{"width", 64}, {"height", 64}, {"enable_hr", true}, {"hr_second_pass_steps", 2}, {"denoising_strength", 0.5}});
    const Json res = post_json(cli, "/sdapi/v1/txt2img", body);
    const Image got = decode_image("r", decode_b64(res["images"][0]));
    EXPECT_EQ(got.width, 128);
    EXPECT_EQ(got.pixels, expected.images[0].image.pixels);
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_NE(info["infotexts"][0].get<std::string>().find("Hires upscaler: Latent"), std::string::npos);
}

TEST(ServerApi, WebuisSamplerTestsPassAndSdeImagesMatchThePipeline) {
    // webui's test/test_txt2img.py posts sampler_index PLMS, DDIM and UniPC and expects 200; the SDE
    // sampler, with webui's Automatic (exponential) schedule, must give the pipeline's image.
    RunningServer s;
    auto cli = s.client();
    for (const char* sampler : {"PLMS", "DDIM", "UniPC", "DPM++ 2M SDE", "DPM++ 3M SDE", "DPM fast", "DPM adaptive"}) {
        Json body = txt2img_body();
        body.erase("sampler_name");
        body["sampler_index"] = sampler;
        const Json res = post_json(cli, "/sdapi/v1/txt2img", body);
        ASSERT_EQ(res["images"].size(), 1u) << sampler;
        EXPECT_EQ(Json::parse(res["info"].get<std::string>())["sampler_name"], sampler);
        if (std::string(sampler) == "DPM++ 2M SDE") {
            GenerateRequest r = reference_request();
            r.sampler = sampler;
            r.scheduler = "exponential";
            const GeneratedImage want = tiny_pipe().generate(r).images.at(0);
            EXPECT_EQ(decode_image("response", decode_b64(res["images"][0])).pixels, want.image.pixels);
            EXPECT_NE(want.infotext.find("Schedule type: Exponential"), std::string::npos) << want.infotext;
        }
    }
}

TEST(ServerApi, ProgressCarriesALivePreviewEveryNSteps) {
    // webui's show_progress_every_n_steps (default 10): /progress's current_image is a PNG of the
    // denoised estimate ("Approx cheap": one pixel per latent cell).
    RunningServer s;
    auto worker = std::async(std::launch::async, [&] {
        auto cli = s.client();
        return post_json(cli, "/sdapi/v1/txt2img", long_body());
    });
    auto cli = s.client();
    Json image;
    ASSERT_TRUE(eventually([&] {
        const Json p = get_json(cli, "/sdapi/v1/progress");
        if (p["state"]["sampling_step"].get<int>() < 10) {
            EXPECT_TRUE(p["current_image"].is_null());
        }
        image = p["current_image"];
        return !image.is_null();
    }));
    const Image preview = decode_image("current_image", decode_b64(image.get<std::string>()));
    EXPECT_EQ(preview.width, 128 / 8);
    post_json(cli, "/sdapi/v1/interrupt", Json::object());
    ASSERT_EQ(worker.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_TRUE(get_json(cli, "/sdapi/v1/progress")["current_image"].is_null());  // idle: none
}

TEST(ServerApi, LivePreviewFormatAndCombinedContentFollowTheOptions) {
    // webui's live_previews_image_format and live_preview_content "Combined": the batch side by side.
    RunningServer s;
    auto cli = s.client();
    post_json(cli, "/sdapi/v1/options", {{"live_previews_image_format", "jpeg"}, {"live_preview_content", "Combined"},
                                         {"show_progress_every_n_steps", 1}});
    Json body = long_body();
    body["batch_size"] = 2;
    auto worker = std::async(std::launch::async, [&] {
        auto c = s.client();
        return post_json(c, "/sdapi/v1/txt2img", body);
    });
    Json image;
    ASSERT_TRUE(eventually([&] {
        image = get_json(cli, "/sdapi/v1/progress")["current_image"];
        return !image.is_null();
    }));
    const std::vector<uint8_t> bytes = decode_b64(image.get<std::string>());
    ASSERT_GE(bytes.size(), 2u);
    EXPECT_EQ(bytes[0], 0xFF);  // a JPEG
    EXPECT_EQ(bytes[1], 0xD8);
    const Image preview = decode_image("current_image", bytes);
    EXPECT_EQ(preview.width, 2 * 128 / 8);
    EXPECT_EQ(preview.height, 128 / 8);
    post_json(cli, "/sdapi/v1/interrupt", Json::object());
    ASSERT_EQ(worker.wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

TEST(ServerApi, ProgressMovesWhileAJobRunsAndInterruptStopsIt) {
    RunningServer s;
    auto worker = std::async(std::launch::async, [&] {
        auto cli = s.client();
        return post_json(cli, "/sdapi/v1/txt2img", long_body());
    });
    auto cli = s.client();
    std::vector<int> steps;
    double last_progress = 0;
    ASSERT_TRUE(eventually([&] {
        const Json p = get_json(cli, "/sdapi/v1/progress");
        const int step = p["state"]["sampling_step"];
        if (step > 0 && (steps.empty() || steps.back() != step)) steps.push_back(step);
        if (step > 0) {
            EXPECT_EQ(p["state"]["sampling_steps"], 150);
            EXPECT_EQ(p["state"]["job_count"], 1);
            EXPECT_GT(p["progress"].get<double>(), 0.0);
            EXPECT_LT(p["progress"].get<double>(), 1.0);
            EXPECT_GE(p["progress"].get<double>(), last_progress);
            last_progress = p["progress"];
        }
        return steps.size() >= 3;
    }));
    post_json(cli, "/sdapi/v1/interrupt", Json::object());
    ASSERT_EQ(worker.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const Json res = worker.get();
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_TRUE(info["interrupted"]);
    EXPECT_TRUE(res["images"].empty());  // the only batch was stopped
    const Json idle = get_json(cli, "/sdapi/v1/progress");
    EXPECT_EQ(idle["progress"], 0);
    EXPECT_EQ(idle["state"]["job_count"], 0);
    EXPECT_EQ(s.server.metrics().images(), 0u);
}

TEST(ServerApi, SkipEndsTheCurrentBatchAndTheNextOneRuns) {
    RunningServer s;
    auto worker = std::async(std::launch::async, [&] {
        auto cli = s.client();
        return post_json(cli, "/sdapi/v1/txt2img", {{"prompt", "x"}, {"width", 128}, {"height", 128}, {"steps", 40},
                                                    {"n_iter", 2}, {"seed", 5}});
    });
    auto cli = s.client();
    ASSERT_TRUE(eventually([&] {
        const Json p = get_json(cli, "/sdapi/v1/progress");
        return p["state"]["job_no"] == 0 && p["state"]["sampling_step"].get<int>() >= 1;
    }));
    post_json(cli, "/sdapi/v1/skip", Json::object());
    ASSERT_EQ(worker.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    const Json res = worker.get();
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_EQ(res["images"].size(), 1u);
    EXPECT_EQ(info["skipped_batches"], 1);
    EXPECT_EQ(info["all_seeds"], Json({6}));  // the second batch's seed: seed + batch_size
}

TEST(ServerApi, OptionsRoundTripAndApplyToGenerations) {
    RunningServer s;
    auto cli = s.client();
    Json opts = get_json(cli, "/sdapi/v1/options");
    EXPECT_EQ(opts["randn_source"], "GPU");
    // webui's test_options_write: read send_seed, write its negation, read it back
    const bool send_seed = opts.at("send_seed").get<bool>();
    EXPECT_TRUE(post_json(cli, "/sdapi/v1/options", {{"send_seed", !send_seed}}).is_null());
    EXPECT_EQ(get_json(cli, "/sdapi/v1/options")["send_seed"], !send_seed);
    post_json(cli, "/sdapi/v1/options", {{"send_seed", send_seed}});
    EXPECT_EQ(opts["CLIP_stop_at_last_layers"], 1);
    const Json written = {{"CLIP_stop_at_last_layers", 2}, {"samples_format", "webp"}, {"my_ext", {{"a", {1, "two"}}}}};
    EXPECT_TRUE(post_json(cli, "/sdapi/v1/options", written).is_null());
    opts = get_json(cli, "/sdapi/v1/options");
    for (const auto& [k, v] : written.items()) EXPECT_EQ(opts[k], v) << k;
    Json body = txt2img_body();
    body["steps"] = 1;
    body["width"] = body["height"] = 64;
    const Json info = Json::parse(post_json(cli, "/sdapi/v1/txt2img", body)["info"].get<std::string>());
    EXPECT_EQ(info["clip_skip"], 2);
    EXPECT_EQ(parse_infotext(info["infotexts"][0]).clip_skip, 2);
}

TEST(ServerApi, ListsThatWebuiClientsPollAnswer) {
    RunningServer s;
    auto cli = s.client();
    const Json samplers = get_json(cli, "/sdapi/v1/samplers");
    std::vector<std::string> names;
    for (const auto& x : samplers) {
        names.push_back(x["name"]);
        EXPECT_TRUE(x["aliases"].is_array());
        EXPECT_TRUE(x["options"].is_object());
    }
    for (const char* want : {"Euler", "Euler a", "DPM++ 2M", "DDIM", "Heun", "UniPC", "DPM++ 2M SDE", "DPM++ 3M SDE", "DPM2 a",
                             "DPM fast", "DPM adaptive", "DPM++ SDE"})
        EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
    for (const auto& x : samplers)  // webui's options: the automatic schedule and the noise
        if (x["name"] == "DPM++ 2M SDE") {
            EXPECT_EQ(x["options"], Json({{"scheduler", "exponential"}, {"brownian_noise", "True"}}));
        }
    const Json schedulers = get_json(cli, "/sdapi/v1/schedulers");
    EXPECT_EQ(schedulers[0]["label"], "Automatic");
    EXPECT_TRUE(std::any_of(schedulers.begin(), schedulers.end(), [](const Json& x) { return x["label"] == "Karras"; }));
    const Json models = get_json(cli, "/sdapi/v1/sd-models");
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0]["title"], "model.safetensors [2b80e894a9]");
    EXPECT_EQ(models[0]["model_name"], "model");
    EXPECT_EQ(models[0]["hash"], "2b80e894a9");
    EXPECT_EQ(models[0]["sha256"].get<std::string>().substr(0, 10), "2b80e894a9");
    for (const char* path : {"/sdapi/v1/upscalers", "/sdapi/v1/prompt-styles", "/sdapi/v1/hypernetworks",
                             "/sdapi/v1/face-restorers", "/sdapi/v1/realesrgan-models", "/sdapi/v1/loras"})
        EXPECT_EQ(get_json(cli, path), Json::array()) << path;
    EXPECT_EQ(get_json(cli, "/sdapi/v1/embeddings"), Json({{"loaded", Json::object()}, {"skipped", Json::object()}}));
    EXPECT_EQ(get_json(cli, "/sdapi/v1/cmd-flags"), Json::object());
    EXPECT_EQ(get_json(cli, "/health")["status"], "ok");
    EXPECT_EQ(get_json(cli, "/ready")["ready"], true);
    auto page = cli.Get("/");
    ASSERT_TRUE(page);
    EXPECT_NE(page->body.find("/sdapi/v1/txt2img"), std::string::npos);
    EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
}

TEST(ServerApi, PngInfoReadsBackTheInfotextOfAGeneratedImage) {
    RunningServer s;
    auto cli = s.client();
    Json body = txt2img_body();
    body["steps"] = 1;
    body["width"] = body["height"] = 64;
    const Json gen = post_json(cli, "/sdapi/v1/txt2img", body);
    const Json info = Json::parse(gen["info"].get<std::string>());
    const Json res = post_json(cli, "/sdapi/v1/png-info", {{"image", "data:image/png;base64," + gen["images"][0].get<std::string>()}});
    EXPECT_EQ(res["info"], info["infotexts"][0]);
    EXPECT_EQ(res["parameters"]["Prompt"], kPrompt);
    EXPECT_EQ(res["parameters"]["Negative prompt"], "blurry");
    EXPECT_EQ(res["parameters"]["Steps"], "1");
    EXPECT_EQ(res["parameters"]["Sampler"], "Euler a");
    EXPECT_EQ(res["parameters"]["Seed"], "42");
    EXPECT_EQ(res["parameters"]["Size-1"], "64");
    EXPECT_EQ(res["items"], Json::object());
    // A picture without text is fine too.
    const Json plain = post_json(cli, "/sdapi/v1/png-info", {{"image", init_image_base64()}});
    EXPECT_EQ(plain["info"], "");
    EXPECT_EQ(plain["parameters"], Json::object());
}

TEST(ServerApi, MetricsAndTheAccessLogCountWhatHappened) {
    LogCapture log;
    RunningServer s(test_config(&log));
    auto cli = s.client();
    Json body = txt2img_body();
    body["steps"] = 1;
    body["width"] = body["height"] = 64;
    post_json(cli, "/sdapi/v1/txt2img", body);
    post_json(cli, "/sdapi/v1/txt2img", {{"steps", "x"}}, 400);
    get_json(cli, "/health");
    // A request is counted once its answer is written, so the count may trail the client a little.
    const std::vector<std::string> expected = {
        "difu_http_requests_total{route=\"/sdapi/v1/txt2img\",status=\"200\"} 1",
        "difu_http_requests_total{route=\"/sdapi/v1/txt2img\",status=\"400\"} 1",
        "difu_http_requests_total{route=\"/health\",status=\"200\"} 1",
        "difu_rejected_requests_total{reason=\"invalid\"} 1", "difu_queue_depth 0", "difu_jobs_in_flight 0",
        "difu_images_generated_total 1", "difu_generation_seconds_count 1", "difu_generation_seconds_bucket{le=\"+Inf\"} 1",
        "difu_jobs_total{outcome=\"completed\"} 1", "difu_sampling_steps_total 1", "# TYPE difu_generation_seconds histogram"};
    std::string text;
    auto all_there = [&] {
        auto m = cli.Get("/metrics");
        text = m ? m->body : "";
        for (const std::string& line : expected)
            if (text.find(line) == std::string::npos) return false;
        return true;
    };
    EXPECT_TRUE(eventually(all_there, std::chrono::seconds(5))) << text;
    // Lines come in the order answers finish, which across connections need not be the clients' order.
    int generations = 0, refusals = 0;
    for (const Json& r : log.events("request")) {
        if (r["route"] != "/sdapi/v1/txt2img") continue;
        EXPECT_EQ(r["method"], "POST");
        EXPECT_EQ(r["client"], "127.0.0.1");
        EXPECT_GT(r["ms"].get<double>(), 0.0);
        generations += r["status"] == 200;
        refusals += r["status"] == 400;
    }
    EXPECT_EQ(generations, 1);
    EXPECT_EQ(refusals, 1);
    const auto jobs = log.events("generation");
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0]["outcome"], "completed");
    for (const char* phase : {"text_s", "sampling_s", "decode_s", "steps_per_s"}) EXPECT_TRUE(jobs[0].contains(phase)) << phase;
}

TEST(ServerApi, LoraTagsInPromptsAreAppliedAndTheFolderIsListed) {
    const std::string dir = difu::test::temp_dir() + "/server-loras";
    std::filesystem::create_directories(dir);
    std::filesystem::remove(dir + "/tiny.safetensors");
    std::filesystem::create_symlink(difu::test::fixture_path("sd1-tiny-lora/lora_kohya.safetensors"), dir + "/tiny.safetensors");
    ServerConfig c = test_config();
    c.lora_dir = dir;
    RunningServer s(c);
    auto cli = s.client();
    const Json list = get_json(cli, "/sdapi/v1/loras");
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["name"], "tiny");
    GenerateRequest r = reference_request();
    r.prompt = kPrompt + std::string(" <lora:tiny:0.8>");
    r.loras = {{dir + "/tiny.safetensors", 0.8f, 0.8f}};
    const GenerateResult expected = tiny_pipe().generate(r);
    Json body = txt2img_body();
    body["prompt"] = r.prompt;
    const Json res = post_json(cli, "/sdapi/v1/txt2img", body);
    ASSERT_EQ(res["images"].size(), 1u);
    EXPECT_EQ(decode_image("r", decode_b64(res["images"][0])).pixels, expected.images[0].image.pixels);
    EXPECT_NE(Json::parse(res["info"].get<std::string>())["infotexts"][0].get<std::string>().find("Lora hashes"), std::string::npos);
    body["prompt"] = "x <lora:nope:1>";
    EXPECT_EQ(cli.Post("/sdapi/v1/txt2img", body.dump(), "application/json")->status, 400);
    std::filesystem::create_symlink(difu::test::fixture_path("sd1-tiny-lora/lora_peft.safetensors"), dir + "/nope.safetensors");
    EXPECT_EQ(cli.Post("/sdapi/v1/refresh-loras", "", "application/json")->status, 200);
    EXPECT_EQ(get_json(cli, "/sdapi/v1/loras").size(), 2u);
    std::filesystem::remove(dir + "/nope.safetensors");
}

TEST(ServerApi, EmbeddingsAreListedInWebuisShape) {
    const std::string dir = difu::test::temp_dir() + "/server-embeddings";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    difu::write_safetensors(dir + "/zqxstyle.safetensors", {{"emb_params", difu::Tensor::empty({2, 128})}});
    difu::write_safetensors(dir + "/zqxwide.safetensors", {{"emb_params", difu::Tensor::empty({1, 1024})}});
    tiny_pipe().set_embeddings(std::make_shared<difu::EmbeddingLibrary>(dir, tiny_pipe().config()));
    RunningServer s;
    auto cli = s.client();
    const Json e = get_json(cli, "/sdapi/v1/embeddings");
    EXPECT_EQ(e["loaded"]["zqxstyle"]["vectors"], 2);
    EXPECT_EQ(e["loaded"]["zqxstyle"]["shape"], 128);
    EXPECT_EQ(e["skipped"]["zqxwide"]["shape"], 1024);
    difu::write_safetensors(dir + "/zqxmore.safetensors", {{"emb_params", difu::Tensor::empty({1, 128})}});
    EXPECT_EQ(cli.Post("/sdapi/v1/refresh-embeddings", "", "application/json")->status, 200);
    EXPECT_EQ(get_json(cli, "/sdapi/v1/embeddings")["loaded"].size(), 2u);
    tiny_pipe().set_embeddings(nullptr);
}

TEST(ServerApi, AnExternalVaeIsNamedInTheResponseInfo) {
    const std::string dir = difu::test::temp_dir() + "/server-vae";
    std::filesystem::create_directories(dir);
    const difu::Checkpoint ck = difu::load_checkpoint(difu::test::fixture_path("sd1-tiny/model.safetensors"));
    std::vector<difu::NamedTensor> vae;
    for (const auto& [key, t] : ck.tensors)
        if (key.rfind("first_stage_model.", 0) == 0) vae.push_back({key, t});
    difu::write_safetensors(dir + "/tiny.vae.safetensors", vae);
    tiny_pipe().set_vae(dir + "/tiny.vae.safetensors");
    {
        RunningServer s;
        auto cli = s.client();
        Json body = txt2img_body();
        body.update({{"steps", 1}, {"width", 64}, {"height", 64}});
        const Json info = Json::parse(post_json(cli, "/sdapi/v1/txt2img", body)["info"].get<std::string>());
        EXPECT_EQ(info["sd_vae_name"], "tiny.vae.safetensors");
        EXPECT_EQ(info["sd_vae_hash"].get<std::string>().size(), 10u);
        EXPECT_NE(info["infotexts"][0].get<std::string>().find("VAE: tiny.vae.safetensors"), std::string::npos);
    }
    tiny_pipe().set_vae("");
}

TEST(ServerApi, SafetyCheckerFlagsAreReportedCountedAndLogged) {
    // A checker that flags everything on the shared pipeline (taken off again at the end).
    struct Restore {
        ~Restore() { tiny_pipe().set_safety_checker(nullptr); }
    } restore;
    tiny_pipe().set_safety_checker(std::make_shared<const SafetyChecker>(difu::test::flag_all_safety_checker()), NsfwAction::Black);
    RunningServer s;
    auto cli = s.client();
    const Json res = post_json(cli, "/sdapi/v1/txt2img", txt2img_body());
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_EQ(info["nsfw_content_detected"], Json::array({true}));
    const Image got = decode_image("r", decode_b64(res["images"][0]));
    EXPECT_EQ(got.pixels, std::vector<uint8_t>(got.pixels.size(), 0));  // black, as diffusers
    std::string text;
    EXPECT_TRUE(eventually([&] {
        auto m = cli.Get("/metrics");
        text = m ? m->body : "";
        return text.find("difu_images_flagged_total 1") != std::string::npos;
    }, std::chrono::seconds(5))) << text;
}
