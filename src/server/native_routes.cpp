// server/native_routes.cpp — difu's own routes: GET /health (the process answers), GET /ready (the
// model is loaded and the worker takes jobs), GET /metrics (Prometheus), GET / (the web page).
#include "server/server_state.h"
#include "server/web_ui.h"

namespace difu::server {

void add_native_routes(httplib::Server& http, ServerState& s) {
    using httplib::Request;
    using httplib::Response;
    add_route(http, s, "GET", "/health", [](const Request&, Response& res) { send_json(res, {{"status", "ok"}}); });
    add_route(http, s, "GET", "/ready", [&s](const Request&, Response& res) {
        // The model loads before the server binds, so a server that answers is ready unless it is stopping.
        const bool ready = s.queue.accepting();
        send_json(res, {{"ready", ready}, {"model", s.model.title}, {"queue_depth", s.queue.waiting()},
                        {"busy", s.queue.busy()}},
                  ready ? 200 : 503);
    });
    add_route(http, s, "GET", "/metrics", [&s](const Request&, Response& res) {
        res.set_content(s.metrics.render(s.queue.waiting(), s.queue.busy()), "text/plain; version=0.0.4; charset=utf-8");
    });
    add_route(http, s, "GET", "/", [](const Request&, Response& res) {
        res.set_content(std::string(web_ui_html()), "text/html; charset=utf-8");
    });
}

}  // namespace difu::server
