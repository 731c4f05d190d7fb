// cli/serve_command.cpp — `difu serve`: webui's HTTP API (/sdapi/v1/...) and a small web page over
// one loaded model, until SIGINT / SIGTERM. The protections are flags; server/ does the work.
#include <fmt/format.h>
#include <pthread.h>

#include <csignal>

#include "cli/commands.h"
#include "cli/pipeline_options.h"
#include "pipeline/pipeline.h"
#include "server/server.h"

namespace difu::cli {
namespace {

constexpr size_t kBytesPerMiB = size_t{1} << 20;

struct ServeOptions {
    std::string model, refiner, embeddings_dir, vae, precision = "auto", api_key, api_key_file, api_auth, rate_limit;
    server::ServerConfig config;
    int max_body_mb = 50;
    double models_memory_gb = 8;
    PipelineOptions pipeline_options;
};

server::ServerConfig build_config(ServeOptions& o) {
    server::ServerConfig c = o.config;
    if (!o.api_key.empty()) c.auth.api_keys.push_back(o.api_key);
    if (!o.api_key_file.empty())
        for (std::string& k : server::read_api_key_file(o.api_key_file)) c.auth.api_keys.push_back(std::move(k));
    if (!o.api_auth.empty()) c.auth.basic = server::parse_api_auth(o.api_auth);
    c.rate_limit = server::parse_rate_limit(o.rate_limit);
    c.max_body_bytes = static_cast<size_t>(o.max_body_mb) * kBytesPerMiB;
    c.limits.max_batch_count = c.limits.request.max_batch;
    constexpr double kBytesPerGiB = 1024.0 * 1024.0 * 1024.0;
    c.models.memory_budget_bytes = static_cast<uint64_t>(o.models_memory_gb * kBytesPerGiB);
    return c;
}

void run_serve(ServeOptions& o) {
    server::ServerConfig config = build_config(o);  // flag mistakes before the (slow) load
    o.pipeline_options.check();
    const PrecisionChoice precision = choose_precision(o.precision);
    const bool default_model = o.model.empty();
    if (default_model) {
        o.model = DIFU_DEFAULT_MODEL;
        fmt::print(stderr, "note: no --model given, serving the bundled random-weight demo model {}: its images are noise\n",
                   o.model);
    }
    if (config.host != "127.0.0.1" && config.host != "localhost" && config.host != "::1" && !config.auth.enabled())
        fmt::print(stderr, "warning: listening on {} without --api-key or --api-auth: anyone who can reach it may use it\n",
                   config.host);
    // SIGINT / SIGTERM are blocked in every thread (the mask is inherited, so before any is made)
    // and taken by sigwait below, which makes stopping an ordinary call instead of a signal handler.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    DiffusionPipeline pipe(o.model, precision.precision);
    fmt::print(stderr, "loaded {} in {:.2f} s; precision {}\n", o.model, pipe.load_seconds(), precision.reason);
    if (!o.vae.empty()) pipe.set_vae(o.vae);
    if (!o.embeddings_dir.empty()) pipe.set_embeddings(std::make_shared<EmbeddingLibrary>(o.embeddings_dir, pipe.config()));
    if (!o.refiner.empty()) {
        pipe.set_refiner(std::make_shared<DiffusionPipeline>(o.refiner, precision.precision));
        fmt::print(stderr, "loaded refiner {} in {:.2f} s\n", o.refiner, pipe.refiner()->load_seconds());
    }
    o.pipeline_options.apply(pipe);
    config.models.precision = precision.precision;
    config.models.prepare = [dir = o.embeddings_dir, options = o.pipeline_options](DiffusionPipeline& p) {  // each model
        if (!dir.empty()) p.set_embeddings(std::make_shared<EmbeddingLibrary>(dir, p.config()));  // switched to: its embeddings
        options.apply(p);  // the same tiling, watermark, TAESD and (shared) safety checker
        fmt::print(stderr, "loaded {} in {:.2f} s\n", p.model_path(), p.load_seconds());
    };
    server::Server server(pipe, config);
    server.start();
    fmt::print(stderr, "difu: serving on http://{}:{}/ (webui API under /sdapi/v1; Ctrl-C stops)\n", config.host, server.port());
    int signal = 0;
    sigwait(&stop_signals, &signal);
    fmt::print(stderr, "difu: {} received, stopping\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
}

}  // namespace

void add_serve_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("serve", "HTTP server with webui's API (/sdapi/v1/txt2img, img2img, progress, ...)");
    auto o = std::make_shared<ServeOptions>();
    server::ServerConfig& c = o->config;
    cmd->add_option("-m,--model", o->model, "Checkpoint (.safetensors, .ckpt); default: the bundled random demo model");
    cmd->add_option("--refiner", o->refiner,
                    "A second checkpoint that requests may hand the end of their run to (refiner_checkpoint, refiner_switch_at)");
    cmd->add_option("--models-dir", c.models.models_dir,
                    "Folder of checkpoints (.safetensors, .ckpt, diffusers folders) that requests may switch to by name "
                    "(sd_model_checkpoint in options or override_settings; /sdapi/v1/sd-models lists them)");
    cmd->add_option("--models-memory-gb", o->models_memory_gb,
                    "Memory for checkpoints switched to besides --model (estimated by their file sizes); the least recently "
                    "used are released beyond it, the one in use is always kept")
        ->capture_default_str()->check(CLI::Range(0.0, 1e6));
    cmd->add_option("--lora-dir", c.lora_dir, "Folder of LoRA files for webui's <lora:name:weight> prompt tags (/sdapi/v1/loras lists it)");
    cmd->add_option("--vae", o->vae, "A VAE file to use instead of the checkpoint's");
    cmd->add_option("--vae-dir", c.vae_dir, "Folder of VAE files requests may pick with webui's sd_vae option (/sdapi/v1/sd-vae)");
    o->pipeline_options.add_to(cmd);
    cmd->add_option("--embeddings-dir", o->embeddings_dir, "Folder of textual-inversion embeddings prompts may name (/sdapi/v1/embeddings)");
    cmd->add_option("--host", c.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
    cmd->add_option("--port", c.port, "TCP port")->capture_default_str()->check(CLI::Range(1, 65535));
    cmd->add_option("--precision", o->precision, "auto, fp32 or bf16")->capture_default_str();
    cmd->add_option("--queue-size", c.queue_size, "Generation jobs that may wait while one runs; more get 503")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    auto* key = cmd->add_option("--api-key", o->api_key, "Require this key (Authorization: Bearer KEY or X-API-Key: KEY)");
    cmd->add_option("--api-key-file", o->api_key_file, "Require one of the keys in this file (one per line)")->excludes(key);
    cmd->add_option("--api-auth", o->api_auth, "webui's Basic auth: user:password[,user:password...]");
    cmd->add_option("--rate-limit", o->rate_limit, "Generation requests per client address, e.g. 30/min (default: none)");
    cmd->add_option("--max-body-mb", o->max_body_mb, "Largest request body in MiB")->capture_default_str()->check(CLI::Range(1, 4096));
    cmd->add_option("--max-side", c.limits.request.max_side, "Largest width / height")->capture_default_str()->check(CLI::Range(64, 16384));
    cmd->add_option("--max-steps", c.limits.request.max_steps, "Most sampling steps")->capture_default_str()->check(CLI::Range(1, 10000));
    cmd->add_option("--max-batch", c.limits.request.max_batch, "Most images per batch, and most batches (n_iter)")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    cmd->callback([o] { run_serve(*o); });
}

}  // namespace difu::cli
