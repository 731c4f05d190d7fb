// server/generation_routes.cpp — webui's generation routes: POST /sdapi/v1/txt2img and /img2img
// (parse, queue, wait, answer), GET /sdapi/v1/progress, POST /sdapi/v1/interrupt and /skip.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "sampling/sampler_names.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/server_state.h"
#include "server/webui_response.h"

namespace difu::server {
namespace {

using Clock = std::chrono::steady_clock;
using httplib::Request;
using httplib::Response;

constexpr double kDefaultJobSeconds = 10;  // Retry-After's guess before any job has finished
constexpr int kMaxRetryAfterSeconds = 600;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// 503 with a Retry-After of about the time the jobs ahead need.
void reply_queue_full(ServerState& s, Response& res) {
    if (!s.queue.accepting()) {
        send_json(res, {{"error", "ShuttingDown"}, {"detail", "the server is shutting down"}}, 503);
        return;
    }
    const double per_job = s.metrics.mean_generation_seconds() > 0 ? s.metrics.mean_generation_seconds() : kDefaultJobSeconds;
    const int retry = std::clamp(static_cast<int>(std::ceil(per_job * static_cast<double>(s.queue.waiting() + 1))), 1,
                                 kMaxRetryAfterSeconds);
    send_json(res, {{"error", "QueueFull"},
                    {"detail", fmt::format("{} jobs are already waiting (--queue-size {}); retry in about {} s",
                                           s.queue.waiting(), s.queue.capacity(), retry)}},
              503);
    res.set_header("Retry-After", std::to_string(retry));
}

void log_job(ServerState& s, const JobContext& ctx, const GenerateRequest& r, const GenerationOutcome& out,
             const GenerationSample& g) {
    // The log names what the safety checker flagged (batch positions), never the prompt.
    Json flagged = Json::array();
    for (size_t i = 0; i < out.images.size(); ++i)
        if (out.images[i].nsfw) flagged.push_back(i);
    s.log.event("generation", {{"job", ctx.id()}, {"outcome", g.outcome}, {"images", g.images}, {"flagged", flagged}, {"seed", out.seed},
                               {"width", r.width}, {"height", r.height}, {"steps", r.steps}, {"sampler", r.sampler},
                               {"text_s", out.times.text}, {"sampling_s", out.times.sampling},
                               {"decode_s", out.times.decode}, {"total_s", g.seconds},
                               {"steps_per_s", g.sampling_seconds > 0 ? g.sampling_steps / g.sampling_seconds : 0.0}});
}

// On the worker thread: the generation, its metrics and its log line.
// The VAE a job decodes with: sd_vae's file, "" (the checkpoint's own), or for "Automatic" the server's
// --vae with the --model checkpoint and the own VAE with the others.
void use_vae(ServerState& s, DiffusionPipeline& pipe, const std::optional<std::string>& requested, ModelInfo& model) {
    const std::string want = requested ? *requested : model.filename == s.model.filename ? s.first_vae : "";
    if (pipe.vae_path() != want) pipe.set_vae(want);  // on the worker: no job runs meanwhile
    model.vae_name = want.empty() ? "" : std::filesystem::path(want).filename().string();
    model.vae_hash = want.empty() ? "" : pipe.vae_hash();
}

void run_job(ServerState& s, const WebuiRequest& w, JobContext& ctx, GenerationOutcome& out, ModelInfo& model) {
    const auto t0 = Clock::now();
    const GenerateRequest& r = w.request;
    GenerationSample g;
    try {
        auto [pipe, info] = s.models.acquire(w.model.filename);  // loads it on first use (the queue keeps the order)
        model = info;
        use_vae(s, *pipe, w.vae, model);
        out = run_generation(*pipe, r, ctx, w.preview);
    } catch (const std::exception& e) {
        g.seconds = since(t0);
        g.outcome = "failed";
        s.metrics.record_generation(g);
        s.log.event("generation", {{"job", ctx.id()}, {"outcome", "failed"}, {"error", e.what()}});
        throw;
    }
    g.seconds = since(t0);
    g.sampling_seconds = out.times.sampling;
    g.sampling_steps = out.sampling_steps;
    g.images = static_cast<int>(out.images.size());
    for (const GeneratedImage& img : out.images) g.flagged += img.nsfw;
    g.outcome = out.interrupted ? "interrupted" : "completed";
    s.metrics.record_generation(g);
    log_job(s, ctx, r, out, g);
}

void generate(ServerState& s, GenerationKind kind, const Request& req, Response& res) {
    if (s.queue.full()) return reply_queue_full(s, res);  // before parsing: a busy server stays cheap to ask
    const Json body = parse_json_object(req.body);
    auto w = std::make_shared<const WebuiRequest>(parse_webui_request(body, kind, s.options.get(), s.model, s.names(),
                                                                       s.config.limits, s.refiner ? &*s.refiner : nullptr,
                                                                       s.loras.get()));
    auto out = std::make_shared<GenerationOutcome>();
    auto model = std::make_shared<ModelInfo>(w->model);
    // The job owns copies of what it needs: if this request's client goes away, the handler still
    // waits here, and the worker finishes the job either way.
    auto done = s.queue.try_submit([&s, w, out, model](JobContext& ctx) { run_job(s, *w, ctx, *out, *model); });
    if (!done) return reply_queue_full(s, res);
    done->get();  // rethrows what the job threw
    send_json(res, generation_response(*w, *out, *model));
}

// webui's progress: 0.01 as soon as a job runs, then the batches done plus the current batch's steps.
Json progress_body(const ServerState& s) {
    const JobProgress p = s.queue.progress();
    double progress = 0, eta = 0;
    if (p.running) {
        progress = 0.01 + static_cast<double>(p.job_no) / std::max(1, p.job_count);
        if (p.sampling_steps > 0)
            progress += 1.0 / std::max(1, p.job_count) * p.sampling_step / p.sampling_steps;
        progress = std::min(progress, 1.0);
        eta = p.elapsed_s / progress - p.elapsed_s;
    }
    const Json state = {
        {"skipped", p.running && p.skipped}, {"interrupted", p.running && p.interrupted},
        {"stopping_generation", false}, {"job", p.running ? fmt::format("job {}", p.job_id) : ""},
        {"job_count", p.running ? p.job_count : 0}, {"job_timestamp", p.running ? p.job_timestamp : "0"},
        {"job_no", p.running ? p.job_no : 0}, {"sampling_step", p.running ? p.sampling_step : 0},
        {"sampling_steps", p.running ? p.sampling_steps : 0}, {"phase", p.running ? p.phase : ""},
    };
    const Json image = p.running && !p.current_image.empty() ? Json(p.current_image) : Json(nullptr);
    return {{"progress", progress}, {"eta_relative", eta}, {"state", state}, {"current_image", image},
            {"textinfo", nullptr}, {"queue_depth", s.queue.waiting()}};
}

}  // namespace

void add_generation_routes(httplib::Server& http, ServerState& s) {
    add_route(http, s, "POST", "/sdapi/v1/txt2img",
              [&s](const Request& req, Response& res) { generate(s, GenerationKind::Txt2Img, req, res); });
    add_route(http, s, "POST", "/sdapi/v1/img2img",
              [&s](const Request& req, Response& res) { generate(s, GenerationKind::Img2Img, req, res); });
    add_route(http, s, "GET", "/sdapi/v1/progress", [&s](const Request&, Response& res) { send_json(res, progress_body(s)); });
    add_route(http, s, "POST", "/sdapi/v1/interrupt", [&s](const Request&, Response& res) {
        s.queue.interrupt();
        send_json(res, Json::object());
    });
    add_route(http, s, "POST", "/sdapi/v1/skip", [&s](const Request&, Response& res) {
        s.queue.skip();
        send_json(res, Json::object());
    });
}

}  // namespace difu::server
