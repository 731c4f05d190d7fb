// server/server_state.h — what the route handlers share (internal to server/): the pipeline, the
// queue, the settings, the counters, and the table of routes (for 405s and metric labels).
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "pipeline/extra_networks.h"
#include "server/http.h"
#include "server/job_queue.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "server/model_catalog.h"
#include "server/vae_catalog.h"
#include "server/model_info.h"
#include "server/options_store.h"
#include "server/server.h"

namespace difu::server {

struct ServerState {
    ServerState(DiffusionPipeline& p, ServerConfig c)
        : pipe(p), config(std::move(c)), models(p, config.models), model(models.first()),
          refiner(p.refiner() ? std::optional<ModelInfo>(describe_model(*p.refiner())) : std::nullopt),
          loras(config.lora_dir.empty() ? nullptr : std::make_unique<LoraLibrary>(config.lora_dir)),
          vaes(config.vae_dir.empty() ? nullptr : std::make_unique<VaeCatalog>(config.vae_dir)), first_vae(p.vae_path()),
          queue(config.queue_size), options(model, names()),
          limiter(config.rate_limit), log(config.log) {}

    Resolvers names() const {
        VaeResolver vae;
        if (vaes) vae = [this](const std::string& name) { return vaes->find(name); };
        return Resolvers([this](const std::string& name) { return models.find(name); }, vae);
    }

    DiffusionPipeline& pipe;  // the --model checkpoint's
    const ServerConfig config;
    ModelCatalog models;
    const ModelInfo model;  // the --model checkpoint
    const std::optional<ModelInfo> refiner;  // difu serve --refiner
    const std::unique_ptr<LoraLibrary> loras;  // difu serve --lora-dir
    const std::unique_ptr<VaeCatalog> vaes;     // difu serve --vae-dir
    const std::string first_vae;                // difu serve --vae: "Automatic" for the --model checkpoint
    JobQueue queue;
    Metrics metrics;
    OptionsStore options;
    RateLimiter limiter;
    EventLog log;
    std::map<std::string, std::set<std::string>> routes;  // path -> methods
};

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Registers a handler and records the route. Paths are literal (no regex characters).
void add_route(httplib::Server& http, ServerState& s, const std::string& method, const std::string& path, Handler h);
// The body of every JSON answer; `status` is set too.
void send_json(httplib::Response& res, const Json& body, int status = 200);

void add_sdapi_routes(httplib::Server& http, ServerState& s);       // server/sdapi_routes.cpp
void add_generation_routes(httplib::Server& http, ServerState& s);  // server/generation_routes.cpp
void add_native_routes(httplib::Server& http, ServerState& s);      // server/native_routes.cpp

}  // namespace difu::server
