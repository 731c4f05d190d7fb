// server/limits.h — who may call the API and how often: API keys and webui's --api-auth Basic
// credentials, and a token bucket per client address (--rate-limit N/min).
#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace difu::server {

// ---- authentication -----------------------------------------------------------------------------

struct AuthConfig {
    std::vector<std::string> api_keys;                          // "Authorization: Bearer K" or "X-API-Key: K"
    std::vector<std::pair<std::string, std::string>> basic;     // webui's --api-auth user:pass[,user:pass]
    bool enabled() const { return !api_keys.empty() || !basic.empty(); }
};

// webui's --api-auth: "user:pass" pairs separated by commas. Throws Error for a pair without ':'.
std::vector<std::pair<std::string, std::string>> parse_api_auth(const std::string& text);
// One key per line; blank lines and lines starting with '#' are skipped. Throws Error naming the file.
std::vector<std::string> read_api_key_file(const std::string& path);

// Whether the request's headers carry one of the configured credentials (compared in constant time,
// so a timing side channel does not reveal how much of a key was right).
bool authorized(const AuthConfig& auth, const std::string& authorization, const std::string& x_api_key);

// ---- rate limit ---------------------------------------------------------------------------------

struct RateLimit {
    double per_second = 0;  // refill rate; 0 = no limit
    double burst = 0;       // bucket size: that many requests may come at once
    bool enabled() const { return per_second > 0; }
};
// "N/min", "N/s", "N/h" or a plain N (per minute); the burst is N. "0" or "" = no limit. Throws Error.
RateLimit parse_rate_limit(const std::string& text);

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    explicit RateLimiter(RateLimit limit) : limit_(limit) {}

    // Takes a token from `client`'s bucket; false when it is empty, with the seconds until the next
    // token in *retry_after_s.
    bool try_acquire(const std::string& client, Clock::time_point now, double* retry_after_s = nullptr);
    bool try_acquire(const std::string& client, double* retry_after_s = nullptr) {
        return try_acquire(client, Clock::now(), retry_after_s);
    }
    const RateLimit& limit() const { return limit_; }

private:
    struct Bucket {
        double tokens;
        Clock::time_point last;
    };
    void forget_full_buckets(Clock::time_point now);

    RateLimit limit_;
    std::mutex mutex_;
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace difu::server
