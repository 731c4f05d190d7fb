// server/server.cpp — the HTTP front: what every request passes before its route (auth, body size,
// rate limit), the JSON shape of every error, the access log and request metrics, and start / stop.
#include "server/server.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "server/api_error.h"
#include "server/server_state.h"

namespace difu::server {
namespace {

using Clock = std::chrono::steady_clock;
using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

// HTTP threads beyond the ones generation requests hold while they wait for the worker, so that
// progress, interrupt and the probes keep answering when the queue is full.
constexpr size_t kStatusThreads = 16;
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr time_t kIoTimeoutSeconds = 30;  // a client that stops sending or reading is dropped

// Every callback of one request runs on one pool thread: pre-routing stamps the start, the logger
// reads it. Requests httplib refuses before routing (a malformed request line) have no stamp.
thread_local std::optional<Clock::time_point> t_request_start;

bool open_route(const std::string& path) { return path == "/health" || path == "/ready" || path == "/"; }

bool rate_limited_route(const Request& req) {
    return req.method == "POST" &&
           (req.path == "/sdapi/v1/txt2img" || req.path == "/sdapi/v1/img2img" || req.path == "/sdapi/v1/png-info");
}

const char* rejection_reason(int status) {
    switch (status) {
        case 401: return "unauthorized";
        case 413: return "too_large";
        case 429: return "rate_limited";
        case 503: return "queue_full";
        default: return status >= 500 ? "server_error" : "invalid";
    }
}

// The reason phrases of the statuses httplib itself answers with before a route runs.
std::string status_text(int status) {
    switch (status) {
        case 400: return "Bad Request: the request line or headers are malformed";
        case 414: return "URI Too Long";
        case 416: return "Range Not Satisfiable";
        default: return fmt::format("HTTP status {}", status);
    }
}

void send_error(Response& res, int status, const std::string& kind, const std::string& detail) {
    send_json(res, {{"error", kind}, {"detail", detail}}, status);
}

// A body past the limit is refused. Up to kDrainFactor times the limit, httplib reads and drops it
// and then answers 413 (fill_error), so the client, still sending, gets the answer instead of a
// reset connection; a client that declares more than that is cut off at once (httplib closes a
// connection whose answer says "Connection: close"). Chunked and compressed bodies are refused
// outright: httplib would read them without a size limit.
constexpr uint64_t kDrainFactor = 2;
constexpr std::string_view kFormType = "application/x-www-form-urlencoded";

std::string too_large_detail(const ServerState& s) {
    return fmt::format("the body is larger than the {} bytes this server accepts (--max-body-mb)", s.config.max_body_bytes);
}

bool refuse_body(const ServerState& s, const Request& req, Response& res) {
    auto refuse = [&](int status, const char* kind, const std::string& detail) {
        send_error(res, status, kind, detail);
        res.set_header("Connection", "close");
        return true;
    };
    const std::string te = req.get_header_value("Transfer-Encoding");
    if (!te.empty() && te != "identity")
        return refuse(411, "LengthRequired", "send the body with a Content-Length; chunked uploads are not accepted");
    const std::string ce = req.get_header_value("Content-Encoding");
    if (!ce.empty() && ce != "identity")
        return refuse(415, "UnsupportedMediaType", "compressed request bodies ('" + ce + "') are not accepted");
    if (!req.has_header("Content-Length")) return false;
    const std::string cl = req.get_header_value("Content-Length");
    uint64_t length = 0;
    const auto [end, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
    if (ec != std::errc() || end != cl.data() + cl.size()) return refuse(400, "BadRequest", "Content-Length is not a number");
    if (length / kDrainFactor > s.config.max_body_bytes) return refuse(413, "PayloadTooLarge", too_large_detail(s));
    return false;
}

// Before the body is read: only what must not be read at all.
HandlerResponse before_route(ServerState& s, const Request& req, Response& res) {
    t_request_start = Clock::now();
    return refuse_body(s, req, res) ? HandlerResponse::Handled : HandlerResponse::Unhandled;
}

// After the body is read (so that the answer is not lost to a reset connection when a client is
// still sending a large body): credentials, then the rate limit.
bool admit(ServerState& s, const Request& req, Response& res) {
    if (!open_route(req.path) && !authorized(s.config.auth, req.get_header_value("Authorization"),
                                             req.get_header_value("X-API-Key"))) {
        send_error(res, 401, "Unauthorized", "this server needs an API key (Authorization: Bearer KEY) or its --api-auth user");
        res.set_header("WWW-Authenticate", s.config.auth.basic.empty() ? "Bearer" : "Basic realm=\"difu\"");
        return false;
    }
    double retry_after = 0;
    if (rate_limited_route(req) && !s.limiter.try_acquire(req.remote_addr, &retry_after)) {
        send_error(res, 429, "TooManyRequests", "rate limit exceeded for " + req.remote_addr);
        res.set_header("Retry-After", std::to_string(static_cast<int>(std::ceil(retry_after))));
        return false;
    }
    return true;
}

// Gives every error httplib or a route left without a body the {error, detail} shape; a known
// path asked with the wrong method is a 405, not a 404.
HandlerResponse fill_error(const ServerState& s, const Request& req, Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    auto known = s.routes.find(req.path);
    if (res.status == 404 && known != s.routes.end()) {
        std::string allow;
        for (const std::string& m : known->second) allow += (allow.empty() ? "" : ", ") + m;
        res.set_header("Allow", allow);
        send_error(res, 405, "MethodNotAllowed", fmt::format("{} takes {}, not {}", req.path, allow, req.method));
    } else if (res.status == 404) {
        send_error(res, 404, "NotFound", fmt::format("no route {} {}", req.method, req.path.substr(0, 200)));
    } else if (res.status == 413 && req.get_header_value("Content-Type").starts_with(kFormType)) {
        // httplib parses form bodies and refuses those past 8 KiB: curl -d without a Content-Type header
        send_error(res, 413, "PayloadTooLarge", "form-encoded bodies are limited to 8 KiB; send JSON with "
                                                "Content-Type: application/json");
    } else if (res.status == 413) {  // httplib drained a body past set_payload_max_length
        send_error(res, 413, "PayloadTooLarge", too_large_detail(s));
    } else {
        send_error(res, res.status, "HttpError", status_text(res.status));
    }
    return HandlerResponse::Handled;
}

void on_exception(const Request&, Response& res, std::exception_ptr ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const ApiError& e) {
        send_error(res, e.status(), e.kind(), e.what());
    } catch (const Json::exception& e) {  // a JSON access a route did not guard: the input's shape
        send_error(res, 400, "BadRequest", e.what());
    } catch (const std::bad_alloc&) {
        send_error(res, 503, "OutOfMemory", "the server ran out of memory for this request");
    } catch (const std::exception& e) {
        send_error(res, 500, "InternalError", e.what());
    } catch (...) {
        send_error(res, 500, "InternalError", "unknown exception");
    }
}

void after_response(ServerState& s, const Request& req, const Response& res) {
    double ms = 0;
    if (t_request_start) ms = std::chrono::duration<double, std::milli>(Clock::now() - *t_request_start).count();
    t_request_start.reset();
    const std::string route = s.routes.count(req.path) ? req.path : "other";  // bounded label set
    s.metrics.count_request(route, res.status);
    if (res.status >= 400) s.metrics.count_rejection(rejection_reason(res.status));
    s.log.request(req.method, req.path, res.status, ms, req.remote_addr);
}

}  // namespace

void add_route(httplib::Server& http, ServerState& s, const std::string& method, const std::string& path, Handler h) {
    s.routes[path].insert(method);
    Handler guarded = [&s, h = std::move(h)](const Request& req, Response& res) {
        if (admit(s, req, res)) h(req, res);
    };
    if (method == "GET") http.Get(path, std::move(guarded));
    else if (method == "POST") http.Post(path, std::move(guarded));
    else throw Error::make("add_route: method {} is not used by difu", method);
}

void send_json(httplib::Response& res, const Json& body, int status) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

struct Server::Runner {
    httplib::Server http;
    std::thread thread;
};

Server::Server(DiffusionPipeline& pipe, ServerConfig config)
    : state_(std::make_unique<ServerState>(pipe, std::move(config))), runner_(std::make_unique<Runner>()) {
    httplib::Server& http = runner_->http;
    ServerState& s = *state_;
    const size_t threads = s.config.queue_size + 1 + kStatusThreads;  // waiting + running + status
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(s.config.max_body_bytes);
    // httplib's default also sets SO_REUSEPORT, with which a second server on the same port binds
    // silently and the kernel splits the connections between the two; SO_REUSEADDR alone only
    // allows a restart while old connections linger in TIME_WAIT.
    http.set_socket_options([](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http.set_read_timeout(kIoTimeoutSeconds);
    http.set_write_timeout(kIoTimeoutSeconds);
    http.set_pre_routing_handler([&s](const Request& req, Response& res) { return before_route(s, req, res); });
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [&s](const Request& req, Response& res) { return fill_error(s, req, res); }));
    http.set_exception_handler(on_exception);
    http.set_logger([&s](const Request& req, const Response& res) { after_response(s, req, res); });
    add_generation_routes(http, s);
    add_sdapi_routes(http, s);
    add_native_routes(http, s);
}

Server::~Server() { stop(); }

int Server::bind() {
    httplib::Server& http = runner_->http;
    const ServerConfig& c = state_->config;
    const int port = c.port == 0 ? http.bind_to_any_port(c.host) : (http.bind_to_port(c.host, c.port) ? c.port : -1);
    if (port < 0) throw Error::make("cannot listen on {}:{} (is the port in use, or the address not this machine's?)", c.host, c.port);
    port_ = port;
    state_->log.event("listening", {{"host", c.host}, {"port", port}, {"model", state_->model.title}});
    return port;
}

void Server::run() { runner_->http.listen_after_bind(); }

void Server::start() {
    bind();
    runner_->thread = std::thread([this] { run(); });
    const auto deadline = Clock::now() + kStartTimeout;
    while (!runner_->http.is_running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!runner_->http.is_running()) throw Error::make("the HTTP server did not start within {} s", kStartTimeout.count());
}

void Server::stop() {
    if (stopped_) return;
    stopped_ = true;
    state_->queue.shutdown();  // first: requests waiting for jobs get their answer, so the pool can join
    runner_->http.stop();
    if (runner_->thread.joinable()) runner_->thread.join();
}

const Metrics& Server::metrics() const { return state_->metrics; }

}  // namespace difu::server
