// tests/server/server_models_test.cpp — difu serve --models-dir: webui's sd-models list, switching
// checkpoints by name (options and override_settings), refresh-checkpoints, and the catalog's
// least-recently-used release within its memory budget.
#include <filesystem>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "server/model_catalog.h"
#include "server_fixture.h"

using namespace difu;
using namespace difu::server;
using namespace difu::server::test;
namespace fs = std::filesystem;

namespace {

const std::string kSd2 = difu::test::fixture_path("sd2-tiny-v/model.safetensors");

// models/sd2/sd2-tiny-v.safetensors (a link) and models/diffusers-sd1 (a diffusers folder).
std::string make_models_dir(const std::string& name) {
    const fs::path dir = fs::path(difu::test::temp_dir()) / name;
    fs::create_directories(dir / "sd2");
    fs::create_symlink(kSd2, dir / "sd2" / "sd2-tiny-v.safetensors");
    fs::copy(difu::test::fixture_path("sd1-tiny-diffusers"), dir / "diffusers-sd1", fs::copy_options::recursive);
    return dir.string();
}

Json post(httplib::Client& cli, const std::string& path, const Json& body, int expect) {
    auto res = cli.Post(path.c_str(), body.dump(), "application/json");
    if (!res) {
        ADD_FAILURE() << path << ": no response";
        return Json();
    }
    EXPECT_EQ(res->status, expect) << path << ": " << res->body.substr(0, 400);
    return Json::parse(res->body);
}
Json get(httplib::Client& cli, const std::string& path) {
    auto res = cli.Get(path.c_str());
    return res ? Json::parse(res->body) : Json();
}

Json small_body() { return {{"prompt", "a red cube"}, {"width", 64}, {"height", 64}, {"steps", 2}, {"seed", 5}}; }

}  // namespace

TEST(ServerModels, AFolderOfCheckpointsIsListedAndRequestsSwitchByName) {
    const std::string dir = make_models_dir("models");
    ServerConfig c = test_config();
    c.models.models_dir = dir;
    RunningServer s(c);
    auto cli = s.client();

    // webui's list: the --model checkpoint, then the folder's in path order, not hashed until loaded.
    Json models = get(cli, "/sdapi/v1/sd-models");
    ASSERT_EQ(models.size(), 3u) << models.dump();
    EXPECT_EQ(models[0]["title"], "model.safetensors [2b80e894a9]");
    EXPECT_EQ(models[1]["title"], "diffusers-sd1");
    EXPECT_EQ(models[2]["title"], "sd2/sd2-tiny-v.safetensors");
    EXPECT_EQ(models[2]["model_name"], "sd2_sd2-tiny-v");
    EXPECT_TRUE(models[2]["hash"].is_null());
    EXPECT_EQ(models[2]["filename"], (fs::absolute(dir) / "sd2" / "sd2-tiny-v.safetensors").string());

    // override_settings switches this one request to another family's checkpoint: the pipeline's own picture.
    Json body = small_body();
    body["override_settings"] = {{"sd_model_checkpoint", "sd2/sd2-tiny-v.safetensors"}};
    const Json res = post(cli, "/sdapi/v1/txt2img", body, 200);
    DiffusionPipeline sd2(kSd2, Precision::FP32);
    GenerateRequest r;
    r.prompt = "a red cube";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 5;
    r.sampler = "Euler";
    r.scheduler = "automatic";
    r.cfg_scale = 7;
    r.rng = RngSource::Gpu;
    const GeneratedImage want = sd2.generate(r).images.at(0);
    ASSERT_EQ(res["images"].size(), 1u);
    EXPECT_EQ(decode_image("response", decode_b64(res["images"][0])).pixels, want.image.pixels);
    const Json info = Json::parse(res["info"].get<std::string>());
    EXPECT_EQ(info["sd_model_hash"], sd2.model_hash());
    // Loaded now: listed with its hash, and found by it.
    models = get(cli, "/sdapi/v1/sd-models");
    EXPECT_EQ(models[2]["title"], "sd2/sd2-tiny-v.safetensors [" + sd2.model_hash() + "]");
    EXPECT_EQ(models[2]["hash"], sd2.model_hash());
    body["override_settings"] = {{"sd_model_checkpoint", sd2.model_hash()}};
    post(cli, "/sdapi/v1/txt2img", body, 200);

    // The options switch every later request; they read back as written.
    post(cli, "/sdapi/v1/options", {{"sd_model_checkpoint", "diffusers-sd1"}}, 200);
    EXPECT_EQ(get(cli, "/sdapi/v1/options")["sd_model_checkpoint"], "diffusers-sd1");
    const Json from_folder = post(cli, "/sdapi/v1/txt2img", small_body(), 200);
    EXPECT_NE(Json::parse(from_folder["info"].get<std::string>())["sd_model_hash"], Json::parse(res["info"].get<std::string>())["sd_model_hash"]);
    EXPECT_FALSE(get(cli, "/sdapi/v1/sd-models")[1]["hash"].is_null());

    // A name no checkpoint has is a 400 that says where to look; the options keep their value.
    body["override_settings"] = {{"sd_model_checkpoint", "nope.safetensors"}};
    const Json bad = post(cli, "/sdapi/v1/txt2img", body, 400);
    EXPECT_NE(bad.dump().find("no checkpoint 'nope.safetensors'"), std::string::npos) << bad.dump();
    post(cli, "/sdapi/v1/options", {{"sd_model_checkpoint", "nope"}}, 400);
    EXPECT_EQ(get(cli, "/sdapi/v1/options")["sd_model_checkpoint"], "diffusers-sd1");

    // A checkpoint added later is listed after refresh-checkpoints.
    fs::create_symlink(kSd2, fs::path(dir) / "later.safetensors");
    EXPECT_EQ(get(cli, "/sdapi/v1/sd-models").size(), 3u);
    post(cli, "/sdapi/v1/refresh-checkpoints", Json::object(), 200);
    models = get(cli, "/sdapi/v1/sd-models");
    ASSERT_EQ(models.size(), 4u);
    EXPECT_EQ(models[2]["title"], "later.safetensors");
}

TEST(ServerModels, TheCatalogKeepsTheRecentlyUsedWithinItsBudget) {
    const std::string dir = make_models_dir("budget");
    const std::string sd2 = (fs::absolute(dir) / "sd2" / "sd2-tiny-v.safetensors").string();
    const std::string folder = (fs::absolute(dir) / "diffusers-sd1").string();
    const uint64_t sd2_bytes = fs::file_size(kSd2);
    int prepared = 0;
    CatalogConfig c;
    c.models_dir = dir;
    c.prepare = [&](DiffusionPipeline&) { ++prepared; };
    c.memory_budget_bytes = sd2_bytes + 1;  // room for the SD2 file, not for both
    ModelCatalog small(tiny_pipe(), c);
    EXPECT_EQ(small.acquire(small.first().filename).first.get(), &tiny_pipe());  // the --model one, never loaded again
    small.acquire(sd2);
    EXPECT_EQ(small.loaded(), std::vector<std::string>{sd2});
    small.acquire(folder);
    EXPECT_EQ(small.loaded(), std::vector<std::string>{folder});  // SD2 released to make room
    EXPECT_EQ(prepared, 2);

    c.memory_budget_bytes = uint64_t{1} << 40;
    ModelCatalog large(tiny_pipe(), c);
    auto first_sd2 = large.acquire(sd2).first;
    large.acquire(folder);
    EXPECT_EQ(large.loaded(), (std::vector<std::string>{folder, sd2}));
    EXPECT_EQ(large.acquire(sd2).first, first_sd2);  // still loaded: the same pipeline, now the most recent
    EXPECT_EQ(large.loaded(), (std::vector<std::string>{sd2, folder}));
    EXPECT_EQ(prepared, 4);
    EXPECT_THROW(large.acquire("/no/such.safetensors"), Error);
}

TEST(ServerModels, SdVaePicksAFileOfTheVaeFolderPerRequestOrForAll) {
    // A VAE-only file whose decoder output is shifted, so its pictures differ from the model's own.
    const fs::path dir = fs::path(difu::test::temp_dir()) / "vaes";
    fs::create_directories(dir);
    const Checkpoint ck = load_checkpoint(difu::test::fixture_path("sd1-tiny/model.safetensors"));
    std::vector<NamedTensor> vae;
    for (const auto& [key, t] : ck.tensors) {
        if (key.rfind("first_stage_model.", 0) != 0) continue;
        Tensor copy = t.to(DType::F32).clone();
        if (key == "first_stage_model.decoder.conv_out.bias")
            for (float& v : copy.f32_mut()) v += 0.5f;
        vae.push_back({key, copy});
    }
    write_safetensors((dir / "bright.vae.safetensors").string(), vae);
    ServerConfig c = test_config();
    c.vae_dir = dir.string();
    {
        RunningServer s(c);
        auto cli = s.client();
        EXPECT_EQ(get(cli, "/sdapi/v1/sd-vae"),
                  Json::array({{{"model_name", "bright.vae.safetensors"}, {"filename", fs::absolute(dir / "bright.vae.safetensors").string()}}}));
        const Json plain = post(cli, "/sdapi/v1/txt2img", small_body(), 200);
        Json body = small_body();
        body["override_settings"] = {{"sd_vae", "bright.vae.safetensors"}};
        const Json bright = post(cli, "/sdapi/v1/txt2img", body, 200);
        const Json info = Json::parse(bright["info"].get<std::string>());
        EXPECT_EQ(info["sd_vae_name"], "bright.vae.safetensors");
        EXPECT_NE(bright["images"][0], plain["images"][0]);
        // The next request without it is decoded by the model's own VAE again.
        const Json again = post(cli, "/sdapi/v1/txt2img", small_body(), 200);
        EXPECT_EQ(again["images"][0], plain["images"][0]);
        EXPECT_TRUE(Json::parse(again["info"].get<std::string>())["sd_vae_name"].is_null());
        // As an option it applies to every request, until "None".
        post(cli, "/sdapi/v1/options", {{"sd_vae", "bright.vae.safetensors"}}, 200);
        EXPECT_EQ(post(cli, "/sdapi/v1/txt2img", small_body(), 200)["images"][0], bright["images"][0]);
        post(cli, "/sdapi/v1/options", {{"sd_vae", "None"}}, 200);
        EXPECT_EQ(post(cli, "/sdapi/v1/txt2img", small_body(), 200)["images"][0], plain["images"][0]);
        post(cli, "/sdapi/v1/options", {{"sd_vae", "missing.vae.pt"}}, 400);
    }
    tiny_pipe().set_vae("");  // the shared pipeline as the other tests expect it
}
