#include "server/limits.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "server/base64.h"

namespace difu::server {
namespace {

// Past this many clients the limiter forgets those whose bucket has refilled (they are
// indistinguishable from new ones), so addresses that come once cannot grow the map without bound.
constexpr size_t kMaxTrackedClients = 10000;

// Equal length and content, in time that depends only on the lengths.
bool same_secret(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool starts_with_ignore_case(const std::string& s, const std::string& prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
    return true;
}

bool basic_matches(const AuthConfig& auth, const std::string& encoded) {
    std::string decoded;
    try {
        const std::vector<uint8_t> bytes = base64_decode(encoded, "Authorization");
        decoded.assign(bytes.begin(), bytes.end());
    } catch (const Error&) {
        return false;
    }
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos) return false;
    const std::string user = decoded.substr(0, colon), pass = decoded.substr(colon + 1);
    bool ok = false;
    for (const auto& [u, p] : auth.basic) ok |= same_secret(user, u) & same_secret(pass, p);  // no early exit
    return ok;
}

bool key_matches(const AuthConfig& auth, const std::string& key) {
    bool ok = false;
    for (const std::string& k : auth.api_keys) ok |= same_secret(key, k);
    return ok;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_api_auth(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string pair = trim(text.substr(start, comma - start));
        start = comma + 1;
        if (pair.empty()) continue;
        const size_t colon = pair.find(':');
        if (colon == std::string::npos || colon == 0)
            throw Error::make("--api-auth: expected user:password pairs separated by commas, got '{}'", pair);
        out.emplace_back(pair.substr(0, colon), pair.substr(colon + 1));
    }
    if (out.empty()) throw Error::make("--api-auth: no user:password pair given");
    return out;
}

std::vector<std::string> read_api_key_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error::at(path, "cannot read the API key file");
    std::vector<std::string> keys;
    for (std::string line; std::getline(in, line);) {
        line = trim(line);
        if (!line.empty() && line[0] != '#') keys.push_back(line);
    }
    if (keys.empty()) throw Error::at(path, "the API key file holds no key");
    return keys;
}

bool authorized(const AuthConfig& auth, const std::string& authorization, const std::string& x_api_key) {
    if (!auth.enabled()) return true;
    if (!x_api_key.empty() && key_matches(auth, trim(x_api_key))) return true;
    if (starts_with_ignore_case(authorization, "Bearer ")) return key_matches(auth, trim(authorization.substr(7)));
    if (starts_with_ignore_case(authorization, "Basic ")) return basic_matches(auth, trim(authorization.substr(6)));
    return false;
}

RateLimit parse_rate_limit(const std::string& text) {
    const std::string t = trim(text);
    if (t.empty()) return {};
    const size_t slash = t.find('/');
    const std::string count = trim(t.substr(0, slash)), unit = slash == std::string::npos ? "min" : trim(t.substr(slash + 1));
    double n = 0;
    const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
    if (ec != std::errc() || end != count.data() + count.size() || !std::isfinite(n) || n < 0)
        throw Error::make("--rate-limit: expected N/min, N/s or N/h with N >= 0, got '{}'", text);
    double seconds = 0;
    if (unit == "s" || unit == "sec" || unit == "second") seconds = 1;
    else if (unit == "m" || unit == "min" || unit == "minute") seconds = 60;
    else if (unit == "h" || unit == "hour") seconds = 3600;
    else throw Error::make("--rate-limit: unknown unit '{}' (use s, min or h)", unit);
    if (n == 0) return {};
    return RateLimit{n / seconds, std::max(1.0, n)};
}

bool RateLimiter::try_acquire(const std::string& client, Clock::time_point now, double* retry_after_s) {
    if (!limit_.enabled()) return true;
    std::lock_guard lock(mutex_);
    if (buckets_.size() >= kMaxTrackedClients && !buckets_.count(client)) forget_full_buckets(now);
    Bucket& b = buckets_.try_emplace(client, Bucket{limit_.burst, now}).first->second;
    const double dt = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(limit_.burst, b.tokens + std::max(0.0, dt) * limit_.per_second);
    b.last = now;
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return true;
    }
    if (retry_after_s) *retry_after_s = (1 - b.tokens) / limit_.per_second;
    return false;
}

void RateLimiter::forget_full_buckets(Clock::time_point now) {
    std::erase_if(buckets_, [&](const auto& kv) {
        const double dt = std::chrono::duration<double>(now - kv.second.last).count();
        return kv.second.tokens + dt * limit_.per_second >= limit_.burst;
    });
    // Still full: that many clients are all mid-burst. Forgetting them all hands each a fresh burst,
    // which beats memory that grows with every address an attacker can use.
    if (buckets_.size() >= kMaxTrackedClients) buckets_.clear();
}

}  // namespace difu::server
