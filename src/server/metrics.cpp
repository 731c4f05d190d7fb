#include "server/metrics.h"

#include <fmt/format.h>

namespace difu::server {
namespace {

// A label value in the exposition format: backslash, double quote and line feed escaped.
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Metrics::count_request(const std::string& route, int status) {
    std::lock_guard lock(mutex_);
    ++requests_[{route, status}];
}

void Metrics::count_rejection(const std::string& reason) {
    std::lock_guard lock(mutex_);
    ++rejections_[reason];
}

void Metrics::record_generation(const GenerationSample& g) {
    std::lock_guard lock(mutex_);
    ++jobs_[g.outcome];
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i)
        if (g.seconds <= kLatencyBuckets[i]) {
            ++latency_counts_[i];
            break;
        }
    ++latency_count_;
    latency_sum_ += g.seconds;
    images_ += static_cast<uint64_t>(g.images);
    flagged_ += static_cast<uint64_t>(g.flagged);
    steps_ += static_cast<uint64_t>(g.sampling_steps);
    sampling_seconds_ += g.sampling_seconds;
    if (g.sampling_seconds > 0) last_steps_per_second_ = g.sampling_steps / g.sampling_seconds;
}

std::string Metrics::render(size_t queue_depth, bool job_in_flight) const {
    std::lock_guard lock(mutex_);
    std::string out;
    header(out, "difu_http_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests_)
        out += fmt::format("difu_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", label(key.first), key.second, n);
    header(out, "difu_rejected_requests_total", "counter", "Requests refused before any work, by reason.");
    for (const auto& [reason, n] : rejections_)
        out += fmt::format("difu_rejected_requests_total{{reason=\"{}\"}} {}\n", label(reason), n);
    header(out, "difu_queue_depth", "gauge", "Generation jobs waiting for the worker.");
    out += fmt::format("difu_queue_depth {}\n", queue_depth);
    header(out, "difu_jobs_in_flight", "gauge", "Generation jobs running (0 or 1: one worker).");
    out += fmt::format("difu_jobs_in_flight {}\n", job_in_flight ? 1 : 0);
    header(out, "difu_jobs_total", "counter", "Generation jobs finished, by outcome.");
    for (const auto& [outcome, n] : jobs_) out += fmt::format("difu_jobs_total{{outcome=\"{}\"}} {}\n", label(outcome), n);
    header(out, "difu_generation_seconds", "histogram", "Time the worker spent on a job.");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        cumulative += latency_counts_[i];
        out += fmt::format("difu_generation_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBuckets[i], cumulative);
    }
    out += fmt::format("difu_generation_seconds_bucket{{le=\"+Inf\"}} {}\n", latency_count_);
    out += fmt::format("difu_generation_seconds_sum {}\ndifu_generation_seconds_count {}\n", latency_sum_, latency_count_);
    header(out, "difu_images_generated_total", "counter", "Images generated.");
    out += fmt::format("difu_images_generated_total {}\n", images_);
    header(out, "difu_images_flagged_total", "counter", "Images the safety checker flagged (--safety-checker).");
    out += fmt::format("difu_images_flagged_total {}\n", flagged_);
    header(out, "difu_sampling_steps_total", "counter", "Sampling steps run.");
    out += fmt::format("difu_sampling_steps_total {}\n", steps_);
    header(out, "difu_sampling_seconds_total", "counter", "Time spent sampling (steps/s = rate of steps / rate of this).");
    out += fmt::format("difu_sampling_seconds_total {}\n", sampling_seconds_);
    header(out, "difu_sampling_steps_per_second", "gauge", "Sampling speed of the last job.");
    out += fmt::format("difu_sampling_steps_per_second {}\n", last_steps_per_second_);
    return out;
}

uint64_t Metrics::requests(const std::string& route, int status) const {
    std::lock_guard lock(mutex_);
    auto it = requests_.find({route, status});
    return it == requests_.end() ? 0 : it->second;
}

uint64_t Metrics::rejections(const std::string& reason) const {
    std::lock_guard lock(mutex_);
    auto it = rejections_.find(reason);
    return it == rejections_.end() ? 0 : it->second;
}

double Metrics::mean_generation_seconds() const {
    std::lock_guard lock(mutex_);
    return latency_count_ ? latency_sum_ / static_cast<double>(latency_count_) : 0.0;
}

uint64_t Metrics::images() const {
    std::lock_guard lock(mutex_);
    return images_;
}

uint64_t Metrics::flagged_images() const {
    std::lock_guard lock(mutex_);
    return flagged_;
}

}  // namespace difu::server
