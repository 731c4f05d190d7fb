// tests/server/base64_test.cpp — RFC 4648 test vectors, and hostile text refused with a message.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "server/base64.h"

using namespace difu::server;

namespace {
std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
}  // namespace

TEST(ServerBase64, Rfc4648VectorsRoundTrip) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (auto [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(bytes(plain)), encoded);
        EXPECT_EQ(base64_decode(encoded, "t"), bytes(plain)) << encoded;
    }
}

TEST(ServerBase64, RandomBytesRoundTripAndUnpaddedOrWrappedTextDecodes) {
    std::mt19937 rng(1);
    for (size_t n = 0; n < 300; n += 7) {
        std::vector<uint8_t> b(n);
        for (auto& x : b) x = static_cast<uint8_t>(rng());
        const std::string e = base64_encode(b);
        EXPECT_EQ(base64_decode(e, "t"), b);
        std::string unpadded = e.substr(0, e.find('='));
        EXPECT_EQ(base64_decode(unpadded, "t"), b);
        std::string wrapped;
        for (size_t i = 0; i < e.size(); ++i) wrapped += (i % 76 == 75 ? "\r\n" : "") + std::string(1, e[i]);
        EXPECT_EQ(base64_decode(wrapped, "t"), b);
    }
}

TEST(ServerBase64, HostileTextIsRefusedNamingTheField) {
    for (const char* bad : {"Zm9v!", "Zm9v\x01", "Z", "Zm9vY", "Zg=", "Zg===", "Zg==Zg==", "=Zg=", "Zm-v", "Zm_v", "\xff\xfe"}) {
        try {
            (void)base64_decode(bad, "init_images[0]");
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const difu::Error& e) {
            EXPECT_NE(std::string(e.what()).find("init_images[0]: invalid base64"), std::string::npos) << e.what();
        }
    }
}

TEST(ServerBase64, DataUrlPrefixIsStripped) {
    EXPECT_EQ(strip_data_url("data:image/png;base64,Zm9v"), "Zm9v");
    EXPECT_EQ(strip_data_url("Zm9v"), "Zm9v");
    EXPECT_EQ(strip_data_url("data:text/plain,hello"), "data:text/plain,hello");  // not base64: left to fail
}
