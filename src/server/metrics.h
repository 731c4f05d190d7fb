// server/metrics.h — counters for GET /metrics in Prometheus' text exposition format (version 0.0.4):
// requests by route and status, rejections by reason, the generation latency histogram, sampling
// throughput and images made; queue depth and jobs in flight are read from the queue when rendered.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace difu::server {

// Upper bounds (seconds) of the generation latency buckets: a 128x128 test image takes well under a
// second, a 1024x1024 SDXL-sized one on a CPU minutes.
inline constexpr std::array<double, 12> kLatencyBuckets = {0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600};

struct GenerationSample {
    double seconds = 0;           // queued-to-done is the request's; this is the worker's run time
    double sampling_seconds = 0;
    int sampling_steps = 0;
    int images = 0;
    int flagged = 0;              // of them, flagged by the safety checker
    std::string outcome;          // "completed", "interrupted", "failed"
};

class Metrics {
public:
    void count_request(const std::string& route, int status);
    void count_rejection(const std::string& reason);  // "queue_full", "rate_limited", "unauthorized", ...
    void record_generation(const GenerationSample& g);

    std::string render(size_t queue_depth, bool job_in_flight) const;

    uint64_t requests(const std::string& route, int status) const;
    uint64_t rejections(const std::string& reason) const;
    uint64_t images() const;
    uint64_t flagged_images() const;
    double mean_generation_seconds() const;  // 0 before the first job

private:
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    std::map<std::string, uint64_t> rejections_, jobs_;
    std::array<uint64_t, kLatencyBuckets.size()> latency_counts_{};  // per bucket, not cumulative
    uint64_t latency_count_ = 0, images_ = 0, flagged_ = 0, steps_ = 0;
    double latency_sum_ = 0, sampling_seconds_ = 0, last_steps_per_second_ = 0;
};

}  // namespace difu::server
