// server/server.h — `difu serve`: the model loaded once, webui's /sdapi/v1 API and difu's own
// /health, /ready, /metrics and web page over HTTP, generation jobs on one worker behind a bounded
// queue, and the protections in front (auth, rate limit, body size, request limits).
//   Server s(pipe, config);  s.start();  ... s.port() ...  s.stop();
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "pipeline/pipeline.h"
#include "server/access_log.h"
#include "server/limits.h"
#include "server/model_catalog.h"
#include "server/webui_request.h"

namespace difu::server {

struct ServerConfig {
    std::string host = "127.0.0.1";  // loopback unless the operator says otherwise
    int port = 7860;                 // webui's port; 0 = any free one (tests)
    size_t queue_size = 4;           // jobs that may wait while one runs
    AuthConfig auth;
    RateLimit rate_limit;            // per client address, for the generation and png-info routes
    size_t max_body_bytes = size_t{50} << 20;
    ServerLimits limits;
    std::string lora_dir;            // LoRA files for <lora:name:...> prompt tags ("" = none)
    CatalogConfig models;            // --models-dir: the checkpoints clients may switch to
    std::string vae_dir;             // --vae-dir: VAE files sd_vae may name ("" = none)
    LogSink log = stderr_sink();     // nullptr: no log
};

class Metrics;
struct ServerState;

class Server {
public:
    // Hashes the model file (webui's model hash) before answering anything.
    Server(DiffusionPipeline& pipe, ServerConfig config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listening socket; returns the port (the chosen one when config.port is 0).
    // Throws Error when the address cannot be bound.
    int bind();
    void run();    // serves on the calling thread until stop(); bind() first
    void start();  // bind(), then run() on a thread of its own; returns once it accepts connections
    // Interrupts the running job, fails the waiting ones with 503, and stops listening. Idempotent.
    void stop();

    int port() const { return port_; }
    const Metrics& metrics() const;

private:
    std::unique_ptr<ServerState> state_;
    int port_ = 0;
    bool stopped_ = false;
    struct Runner;
    std::unique_ptr<Runner> runner_;
};

}  // namespace difu::server
