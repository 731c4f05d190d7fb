// tests/server/server_load_test.cpp — a bounded load on loopback: 8 clients, 200 generation
// requests against a queue of 2 and a shared rate limit. Every request gets an answer (200, 429 or
// 503), every accepted job completes, the server's counters equal the clients', and memory stays put.
#include <atomic>
#include <fstream>
#include <map>

#include "server/metrics.h"
#include "server_fixture.h"

using namespace difu;
using namespace difu::server;
using namespace difu::server::test;

namespace {

constexpr int kClients = 8, kRequestsPerClient = 25;

long rss_kib() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

}  // namespace

TEST(ServerLoad, EveryRequestIsAnsweredAndTheCountsAgree) {
    LogCapture log;
    ServerConfig c = test_config(&log);
    c.queue_size = 2;
    c.rate_limit = parse_rate_limit("60/s");  // every client is 127.0.0.1: one bucket for all
    RunningServer s(c);
    (void)s.client().Post("/sdapi/v1/txt2img", R"({"steps": 1, "width": 64, "height": 64})", "application/json");  // warm
    const long rss_before = rss_kib();
    std::mutex m;
    std::map<int, int> statuses;
    std::vector<double> latencies;
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i)
        clients.emplace_back([&, i] {
            auto cli = s.client();
            for (int k = 0; k < kRequestsPerClient; ++k) {
                const std::string body = fmt::format(R"({{"steps": 1, "width": 64, "height": 64, "seed": {}}})", i * 100 + k);
                const auto t0 = std::chrono::steady_clock::now();
                auto res = cli.Post("/sdapi/v1/txt2img", body, "application/json");
                const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                std::lock_guard lock(m);
                ++statuses[res ? res->status : 0];
                if (res && res->status == 200) latencies.push_back(ms);
            }
        });
    for (auto& t : clients) t.join();
    const long rss_after = rss_kib();

    int answered = 0;
    for (auto [status, n] : statuses) {
        EXPECT_TRUE(status == 200 || status == 429 || status == 503) << n << " answers with status " << status;
        answered += n;
    }
    EXPECT_EQ(answered, kClients * kRequestsPerClient);
    EXPECT_GT(statuses[200], 0);
    EXPECT_GT(statuses[429] + statuses[503], 0);  // the protections did refuse some
    const Metrics& metrics = s.server.metrics();
    ASSERT_TRUE(eventually([&] {
        return metrics.requests("/sdapi/v1/txt2img", 200) == static_cast<uint64_t>(statuses[200]) + 1;  // + the warm-up
    }, std::chrono::seconds(10)));
    EXPECT_EQ(metrics.requests("/sdapi/v1/txt2img", 429), static_cast<uint64_t>(statuses[429]));
    EXPECT_EQ(metrics.requests("/sdapi/v1/txt2img", 503), static_cast<uint64_t>(statuses[503]));
    EXPECT_EQ(metrics.rejections("rate_limited"), static_cast<uint64_t>(statuses[429]));
    EXPECT_EQ(metrics.rejections("queue_full"), static_cast<uint64_t>(statuses[503]));
    EXPECT_EQ(metrics.images(), static_cast<uint64_t>(statuses[200]) + 1);
    size_t completed = 0;
    for (const Json& job : log.events("generation")) completed += job["outcome"] == "completed";
    EXPECT_EQ(completed, static_cast<size_t>(statuses[200]) + 1);
    EXPECT_LT(rss_after - rss_before, 256 * 1024) << "RSS grew from " << rss_before << " to " << rss_after << " KiB";

    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) { return latencies.empty() ? 0.0 : latencies[static_cast<size_t>(p * (latencies.size() - 1))]; };
    std::printf("load: %d requests, %d accepted, %d rate limited, %d queue full; p50 %.0f ms, p95 %.0f ms; RSS %ld -> %ld KiB\n",
                answered, statuses[200], statuses[429], statuses[503], pct(0.5), pct(0.95), rss_before, rss_after);
}
