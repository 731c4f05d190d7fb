// server/access_log.h — the server's structured log: one JSON object per line, so a log shipper
// can parse it without a grammar. Access lines ({"event":"request", route, status, ms, client}) for
// every request; generation lines with the per-phase timings of every job.
#pragma once
#include <functional>
#include <mutex>
#include <string>

#include "server/json_fields.h"

namespace difu::server {

using LogSink = std::function<void(const std::string& line)>;  // gets each line without its '\n'
LogSink stderr_sink();

class EventLog {
public:
    explicit EventLog(LogSink sink) : sink_(std::move(sink)) {}

    void request(const std::string& method, const std::string& path, int status, double ms, const std::string& client);
    // `fields` are added to {"ts", "event"}.
    void event(const std::string& name, Json fields);

private:
    std::mutex mutex_;  // lines from the pool's threads never interleave
    LogSink sink_;
};

}  // namespace difu::server
