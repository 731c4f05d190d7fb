// tests/server/server_hostile_test.cpp — what a careless or hostile client sends: a table of
// malformed requests, each answered with its 4xx and {error, detail} while the server stays healthy;
// and the protections: 503 + Retry-After on a full queue, 401 without credentials, 429 past the
// rate limit, 413 past the body limit, and a client that hangs up mid-generation.
#include <future>

#include "server/metrics.h"
#include "server_fixture.h"

using namespace difu;
using namespace difu::server;
using namespace difu::server::test;

namespace {

struct Case {
    const char* name;
    const char* path;
    std::string body;
    int status;
};

std::string deep_nesting(size_t depth) { return "{\"prompt\": " + std::string(depth, '[') + std::string(depth, ']') + "}"; }

std::string truncated_png_data_url() {
    const std::string png = read_file_bytes(difu::test::fixture_path("sd1-tiny/init_image.png"));
    const std::string half = png.substr(0, png.size() / 2);
    return "data:image/png;base64," + base64_encode(std::span(reinterpret_cast<const uint8_t*>(half.data()), half.size()));
}

std::string img2img_with(const std::string& init_images_json) {
    return R"({"prompt": "x", "steps": 1, "width": 64, "height": 64, "init_images": )" + init_images_json + "}";
}

std::vector<Case> malformed_requests() {
    const char* t2i = "/sdapi/v1/txt2img";
    const char* i2i = "/sdapi/v1/img2img";
    return {
        {"not JSON", t2i, "prompt=cat", 400},
        {"empty body", t2i, "", 400},
        {"truncated JSON", t2i, R"({"prompt": "cat")", 400},
        {"top level array", t2i, "[1, 2]", 400},
        {"top level string", t2i, R"("cat")", 400},
        {"invalid UTF-8 in a string", t2i, "{\"prompt\": \"\xff\xfe\"}", 400},
        {"number overflow", t2i, R"({"steps": 1e400})", 400},
        {"nesting 100000 deep", t2i, deep_nesting(100000), 400},
        {"prompt is a number", t2i, R"({"prompt": 5})", 400},
        {"steps is a string", t2i, R"({"steps": "20"})", 400},
        {"steps is fractional", t2i, R"({"steps": 20.5})", 400},
        {"steps negative", t2i, R"({"steps": -1})", 400},
        {"steps huge", t2i, R"({"steps": 100000})", 400},
        {"steps 1e300", t2i, R"({"steps": 1e300})", 400},
        {"width negative", t2i, R"({"width": -512})", 400},
        {"width not a multiple of 8", t2i, R"({"width": 100, "height": 64})", 400},
        {"width past --max-side", t2i, R"({"width": 4096})", 400},
        {"height zero", t2i, R"({"height": 0})", 400},
        {"width past int32", t2i, R"({"width": 1099511627776})", 400},
        {"cfg_scale is a string", t2i, R"({"cfg_scale": "high"})", 400},
        {"cfg_scale past float", t2i, R"({"cfg_scale": 1e39})", 400},
        {"cfg_scale negative", t2i, R"({"cfg_scale": -1})", 400},
        {"unknown sampler", t2i, R"({"sampler_name": "Nope"})", 400},
        {"sampler is a number", t2i, R"({"sampler_name": 3})", 400},
        {"unknown scheduler", t2i, R"({"scheduler": "Polyexponential"})", 400},
        {"batch too large", t2i, R"({"batch_size": 100})", 400},
        {"n_iter zero", t2i, R"({"n_iter": 0})", 400},
        {"n_iter too large", t2i, R"({"n_iter": 100})", 400},
        {"seed below -1", t2i, R"({"seed": -5})", 400},
        {"seed is a string", t2i, R"({"seed": "abc"})", 400},
        {"seed past int64", t2i, R"({"seed": 1e30})", 400},
        {"eta is a string", t2i, R"({"eta": "x", "sampler_name": "DDIM"})", 400},
        {"override_settings not an object", t2i, R"({"override_settings": "x"})", 400},
        {"randn_source TPU", t2i, R"({"override_settings": {"randn_source": "TPU"}})", 400},
        {"clip skip zero", t2i, R"({"override_settings": {"CLIP_stop_at_last_layers": 0}})", 400},
        {"another model", t2i, R"({"override_settings": {"sd_model_checkpoint": "sdxl.safetensors"}})", 400},
        {"img2img without init_images", i2i, R"({"prompt": "x"})", 400},
        {"img2img with no images", i2i, img2img_with("[]"), 400},
        {"init_images not an array", i2i, img2img_with(R"("abc")"), 400},
        {"init image is a number", i2i, img2img_with("[123]"), 400},
        {"init image invalid base64", i2i, img2img_with(R"(["!!!not base64"])"), 400},
        {"init image not an image", i2i, img2img_with(R"(["aGVsbG8gd29ybGQ="])"), 400},
        {"init image truncated PNG", i2i, img2img_with("[\"" + truncated_png_data_url() + "\"]"), 400},
        {"init image empty", i2i, img2img_with(R"([""])"), 400},
        {"denoising_strength above 1", i2i, R"({"denoising_strength": 2, "init_images": ["aGVsbG8="]})", 400},
        {"png-info without image", "/sdapi/v1/png-info", "{}", 400},
        {"png-info bad base64", "/sdapi/v1/png-info", R"({"image": "@@@"})", 400},
        {"png-info not an image", "/sdapi/v1/png-info", R"({"image": "aGVsbG8gd29ybGQ="})", 400},
        {"png-info image is an object", "/sdapi/v1/png-info", R"({"image": {}})", 400},
        {"options not an object", "/sdapi/v1/options", "[]", 400},
        {"options randn_source TPU", "/sdapi/v1/options", R"({"randn_source": "TPU"})", 400},
        {"options clip skip string", "/sdapi/v1/options", R"({"CLIP_stop_at_last_layers": "2"})", 400},
        {"oversized body (1.5 MiB, limit 1 MiB)", t2i, R"({"prompt": ")" + std::string(size_t{3} << 19, 'a') + "\"}", 413},
        {"unknown route", "/sdapi/v1/nope", "{}", 404},
    };
}

void expect_error_shape(const httplib::Result& res, const std::string& what) {
    ASSERT_TRUE(res) << what;
    const Json j = Json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << what << ": " << res->body.substr(0, 200);
    EXPECT_TRUE(j["error"].is_string()) << what;
    EXPECT_TRUE(j["detail"].is_string()) << what;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << what;
}

ServerConfig small_body_config() {
    ServerConfig c = test_config();
    c.max_body_bytes = size_t{1} << 20;
    return c;
}

}  // namespace

TEST(ServerHostile, EveryMalformedRequestGetsItsClientErrorAndTheServerStaysHealthy) {
    RunningServer s(small_body_config());
    const std::vector<Case> cases = malformed_requests();
    ASSERT_GE(cases.size(), 30u);
    for (const Case& c : cases) {
        auto cli = s.client();
        auto res = cli.Post(c.path, c.body, "application/json");
        ASSERT_TRUE(res) << c.name << ": no response (" << httplib::to_string(res.error()) << ")";
        EXPECT_EQ(res->status, c.status) << c.name << ": " << res->body.substr(0, 300);
        expect_error_shape(res, c.name);
        auto health = s.client().Get("/health");
        ASSERT_TRUE(health) << "after " << c.name;
        EXPECT_EQ(health->status, 200) << "after " << c.name;
    }
    EXPECT_EQ(s.server.metrics().rejections("server_error"), 0u);
    EXPECT_TRUE(eventually([&] { return s.server.metrics().rejections("invalid") + s.server.metrics().rejections("too_large") ==
                                        cases.size(); }, std::chrono::seconds(5)));
}

TEST(ServerHostile, WrongMethodsAndRawProtocolAbuseGetClientErrors) {
    RunningServer s(small_body_config());
    auto cli = s.client();
    auto get = cli.Get("/sdapi/v1/txt2img");
    ASSERT_TRUE(get);
    EXPECT_EQ(get->status, 405);
    EXPECT_EQ(get->get_header_value("Allow"), "POST");
    expect_error_shape(get, "GET txt2img");
    const int port = s.server.port();
    EXPECT_EQ(raw_http_status(port, "GARBAGE\r\n\r\n"), 400);
    EXPECT_EQ(raw_http_status(port, "POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"), 400);
    EXPECT_EQ(raw_http_status(port, "POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\nhello\r\n0\r\n\r\n"), 411);
    EXPECT_EQ(raw_http_status(port, "POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                                    "Content-Length: 4\r\n\r\nabcd"), 415);
    EXPECT_EQ(raw_http_status(port, "POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"), 413);
    EXPECT_EQ(raw_http_status(port, "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414);
    // curl -d sends JSON as a form unless told otherwise; httplib refuses forms past 8 KiB.
    auto form = cli.Post("/sdapi/v1/txt2img", R"({"prompt": ")" + std::string(10000, 'a') + "\"}",
                         "application/x-www-form-urlencoded");
    ASSERT_TRUE(form);
    EXPECT_EQ(form->status, 413);
    EXPECT_NE(form->body.find("Content-Type: application/json"), std::string::npos) << form->body;
    auto health = s.client().Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

TEST(ServerHostile, ASecondServerOnABusyPortFailsToStartInsteadOfSharingIt) {
    RunningServer first;
    ServerConfig c = test_config();
    c.port = first.server.port();
    Server second(tiny_pipe(), c);
    EXPECT_THROW(second.start(), Error);
    EXPECT_EQ(first.client().Get("/health")->status, 200);
}

TEST(ServerHostile, AFullQueueAnswers503WithRetryAfter) {
    ServerConfig c = test_config();
    c.queue_size = 1;
    RunningServer s(c);
    auto long_job = std::async(std::launch::async, [&] {
        return s.client().Post("/sdapi/v1/txt2img", R"({"width": 128, "height": 128, "steps": 150, "seed": 1})", "application/json");
    });
    auto cli = s.client();
    auto running = [&] { return Json::parse(cli.Get("/sdapi/v1/progress")->body)["state"]["sampling_step"].get<int>() > 0; };
    ASSERT_TRUE(eventually(running));
    auto waiting_job = std::async(std::launch::async, [&] {
        return s.client().Post("/sdapi/v1/txt2img", R"({"width": 64, "height": 64, "steps": 1, "seed": 2})", "application/json");
    });
    ASSERT_TRUE(eventually([&] { return Json::parse(cli.Get("/sdapi/v1/progress")->body)["queue_depth"] == 1; }));
    auto refused = cli.Post("/sdapi/v1/txt2img", R"({"width": 64, "height": 64, "steps": 1})", "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    expect_error_shape(refused, "queue full");
    EXPECT_GE(std::stoi(refused->get_header_value("Retry-After")), 1);
    EXPECT_EQ(cli.Get("/health")->status, 200);  // status routes answer while the queue is full
    cli.Post("/sdapi/v1/interrupt", "{}", "application/json");
    auto first = long_job.get();
    auto second = waiting_job.get();
    ASSERT_TRUE(first);
    ASSERT_TRUE(second);
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(second->status, 200);
    EXPECT_EQ(Json::parse(second->body)["images"].size(), 1u);  // the interrupt was the first job's only
    EXPECT_TRUE(eventually([&] { return s.server.metrics().rejections("queue_full") == 1; }, std::chrono::seconds(5)));
}

TEST(ServerHostile, ApiKeyAndBasicAuthAreRequiredWhenConfigured) {
    ServerConfig c = test_config();
    c.auth.api_keys = {"k3y"};
    c.auth.basic = {{"user", "pass"}};
    RunningServer s(c);
    auto cli = s.client();
    auto denied = cli.Get("/sdapi/v1/samplers");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401);
    expect_error_shape(denied, "no key");
    EXPECT_EQ(denied->get_header_value("WWW-Authenticate"), "Basic realm=\"difu\"");
    EXPECT_EQ(cli.Post("/sdapi/v1/txt2img", "{}", "application/json")->status, 401);
    EXPECT_EQ(cli.Get("/metrics")->status, 401);
    EXPECT_EQ(cli.Get("/health")->status, 200);  // probes stay open
    EXPECT_EQ(cli.Get("/ready")->status, 200);
    EXPECT_EQ(cli.Get("/sdapi/v1/samplers", {{"Authorization", "Bearer wrong"}})->status, 401);
    EXPECT_EQ(cli.Get("/sdapi/v1/samplers", {{"Authorization", "Bearer k3y"}})->status, 200);
    EXPECT_EQ(cli.Get("/sdapi/v1/samplers", {{"X-API-Key", "k3y"}})->status, 200);
    auto basic = s.client();
    basic.set_basic_auth("user", "pass");
    EXPECT_EQ(basic.Get("/sdapi/v1/samplers")->status, 200);
    basic.set_basic_auth("user", "wrong");
    EXPECT_EQ(basic.Get("/sdapi/v1/samplers")->status, 401);
}

TEST(ServerHostile, ATinyRateLimitAnswers429WithRetryAfter) {
    ServerConfig c = test_config();
    c.rate_limit = parse_rate_limit("2/min");
    RunningServer s(c);
    auto cli = s.client();
    const std::string body = R"({"image": ")" + init_image_base64() + "\"}";
    EXPECT_EQ(cli.Post("/sdapi/v1/png-info", body, "application/json")->status, 200);
    EXPECT_EQ(cli.Post("/sdapi/v1/png-info", body, "application/json")->status, 200);
    auto limited = cli.Post("/sdapi/v1/png-info", body, "application/json");
    ASSERT_TRUE(limited);
    EXPECT_EQ(limited->status, 429);
    expect_error_shape(limited, "rate limited");
    EXPECT_GE(std::stoi(limited->get_header_value("Retry-After")), 1);
    EXPECT_EQ(cli.Get("/sdapi/v1/progress")->status, 200);  // status polling is not rate limited
    EXPECT_EQ(cli.Get("/health")->status, 200);
    EXPECT_TRUE(eventually([&] { return s.server.metrics().rejections("rate_limited") == 1; }, std::chrono::seconds(5)));
}

TEST(ServerHostile, AClientThatHangsUpMidGenerationDoesNotStopTheWorker) {
    LogCapture log;
    RunningServer s(test_config(&log));
    {
        httplib::Client impatient("127.0.0.1", s.server.port());
        impatient.set_read_timeout(0, 50000);  // gives up after 50 ms, long before the picture is ready
        auto res = impatient.Post("/sdapi/v1/txt2img", R"({"width": 64, "height": 64, "steps": 60, "seed": 3})",
                                  "application/json");
        EXPECT_FALSE(res) << res->status << " " << res->body.substr(0, 300);
    }
    auto cli = s.client();
    auto res = cli.Post("/sdapi/v1/txt2img", R"({"width": 64, "height": 64, "steps": 1, "seed": 4})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(Json::parse(res->body)["images"].size(), 1u);
    ASSERT_TRUE(eventually([&] { return log.events("generation").size() == 2; }));
    for (const Json& job : log.events("generation")) EXPECT_EQ(job["outcome"], "completed");
    EXPECT_EQ(s.server.metrics().images(), 2u);
}
