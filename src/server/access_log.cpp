#include "server/access_log.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace difu::server {
namespace {

constexpr size_t kMaxLoggedPath = 200;  // a hostile URL must not make a log line huge

std::string utc_timestamp() {  // ISO 8601 with milliseconds: 2024-05-01T12:00:00.123Z
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    return fmt::format("{}.{:03}Z", buf, ms);
}

}  // namespace

LogSink stderr_sink() {
    return [](const std::string& line) {
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fputc('\n', stderr);
        std::fflush(stderr);
    };
}

void EventLog::request(const std::string& method, const std::string& path, int status, double ms, const std::string& client) {
    const std::string shown = path.size() > kMaxLoggedPath ? path.substr(0, kMaxLoggedPath) + "..." : path;
    event("request", {{"method", method}, {"route", shown}, {"status", status},
                      {"ms", std::round(ms * 10) / 10}, {"client", client}});
}

void EventLog::event(const std::string& name, Json fields) {
    if (!sink_) return;
    Json line = {{"ts", utc_timestamp()}, {"event", name}};
    line.update(fields);
    // replace: a path or prompt that is not UTF-8 is still logged, with U+FFFD for the bad bytes.
    const std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace);
    std::lock_guard lock(mutex_);
    sink_(text);
}

}  // namespace difu::server
