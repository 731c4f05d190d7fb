// tests/server/limits_test.cpp — the token bucket (on a clock the test moves), credentials, and
// the --rate-limit / --api-auth syntax.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "server/base64.h"
#include "server/limits.h"
#include "test_support.h"

using namespace difu::server;
using namespace std::chrono_literals;

TEST(ServerLimits, TokenBucketAllowsABurstThenRefillsAtTheRate) {
    RateLimiter limiter(parse_rate_limit("3/min"));
    const auto t0 = RateLimiter::Clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.try_acquire("1.2.3.4", t0));
    double retry = 0;
    EXPECT_FALSE(limiter.try_acquire("1.2.3.4", t0, &retry));
    EXPECT_NEAR(retry, 20.0, 1e-6);                           // one token per 20 s
    EXPECT_TRUE(limiter.try_acquire("5.6.7.8", t0));          // buckets are per client
    EXPECT_FALSE(limiter.try_acquire("1.2.3.4", t0 + 19s));
    EXPECT_TRUE(limiter.try_acquire("1.2.3.4", t0 + 21s));
    EXPECT_FALSE(limiter.try_acquire("1.2.3.4", t0 + 22s));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.try_acquire("1.2.3.4", t0 + 1h));  // never above the burst
    EXPECT_FALSE(limiter.try_acquire("1.2.3.4", t0 + 1h));
}

TEST(ServerLimits, ManyClientsDoNotGrowTheLimiterWithoutBound) {
    RateLimiter limiter(parse_rate_limit("1/s"));
    const auto t0 = RateLimiter::Clock::now();
    for (int i = 0; i < 30000; ++i) EXPECT_TRUE(limiter.try_acquire("client-" + std::to_string(i), t0 + i * 1ms));
}

TEST(ServerLimits, RateLimitSyntax) {
    EXPECT_FALSE(parse_rate_limit("").enabled());
    EXPECT_FALSE(parse_rate_limit("0").enabled());
    EXPECT_NEAR(parse_rate_limit("30/min").per_second, 0.5, 1e-12);
    EXPECT_NEAR(parse_rate_limit("30").per_second, 0.5, 1e-12);
    EXPECT_NEAR(parse_rate_limit("2/s").per_second, 2, 1e-12);
    EXPECT_NEAR(parse_rate_limit("7200/h").per_second, 2, 1e-12);
    EXPECT_EQ(parse_rate_limit("5/min").burst, 5);
    for (const char* bad : {"x/min", "5/day", "-1/min", "5/", "1e999/s"}) EXPECT_THROW(parse_rate_limit(bad), difu::Error) << bad;
}

TEST(ServerLimits, ApiKeysAndBasicCredentials) {
    AuthConfig auth;
    EXPECT_TRUE(authorized(auth, "", ""));  // nothing configured: open
    auth.api_keys = {"s3cret"};
    auth.basic = parse_api_auth("alice:pw1, bob:p:w2");
    EXPECT_EQ(auth.basic.at(1).second, "p:w2");  // the password may hold ':'
    EXPECT_FALSE(authorized(auth, "", ""));
    EXPECT_TRUE(authorized(auth, "Bearer s3cret", ""));
    EXPECT_TRUE(authorized(auth, "", "s3cret"));
    EXPECT_FALSE(authorized(auth, "Bearer s3cre", ""));
    EXPECT_FALSE(authorized(auth, "Bearer s3cretX", ""));
    auto basic = [](const std::string& up) {
        return "Basic " + base64_encode(std::span(reinterpret_cast<const uint8_t*>(up.data()), up.size()));
    };
    EXPECT_TRUE(authorized(auth, basic("alice:pw1"), ""));
    EXPECT_TRUE(authorized(auth, basic("bob:p:w2"), ""));
    EXPECT_FALSE(authorized(auth, basic("alice:pw2"), ""));
    EXPECT_FALSE(authorized(auth, basic("alice"), ""));
    EXPECT_FALSE(authorized(auth, "Basic !!!", ""));
    EXPECT_THROW(parse_api_auth("nocolon"), difu::Error);
    EXPECT_THROW(parse_api_auth(""), difu::Error);
}

TEST(ServerLimits, ApiKeyFileSkipsCommentsAndBlankLines) {
    const std::string path = difu::test::temp_dir() + "/keys.txt";
    std::ofstream(path) << "# keys\n\n  key-one  \nkey-two\n";
    EXPECT_EQ(read_api_key_file(path), (std::vector<std::string>{"key-one", "key-two"}));
    EXPECT_THROW(read_api_key_file(path + ".missing"), difu::Error);
}
