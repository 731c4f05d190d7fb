// tests/server/server_fixture.h — what the server tests share: the sd1-tiny pipeline (loaded once,
// fp32), a Server on a free loopback port that stops when the test ends, and small client helpers.
#pragma once
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/pipeline.h"
#include "server/base64.h"
#include "server/http.h"
#include "server/json_fields.h"
#include "server/server.h"
#include "test_support.h"

namespace difu::server::test {

inline DiffusionPipeline& tiny_pipe() {
    static DiffusionPipeline p(difu::test::fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    return p;
}

// Log lines, kept for tests that look at them (and off stderr).
struct LogCapture {
    std::mutex mutex;
    std::vector<std::string> lines;
    LogSink sink() {
        return [this](const std::string& line) {
            std::lock_guard lock(mutex);
            lines.push_back(line);
        };
    }
    std::vector<Json> events(const std::string& name) {
        std::lock_guard lock(mutex);
        std::vector<Json> out;
        for (const auto& l : lines) {
            Json j = Json::parse(l);
            if (j["event"] == name) out.push_back(j);
        }
        return out;
    }
};

inline ServerConfig test_config(LogCapture* log = nullptr) {
    ServerConfig c;
    c.port = 0;
    c.log = log ? log->sink() : LogSink{};
    return c;
}

// A server on 127.0.0.1:<free port>, running for the lifetime of this object.
struct RunningServer {
    explicit RunningServer(ServerConfig c = test_config()) : server(tiny_pipe(), std::move(c)) { server.start(); }
    httplib::Client client(int read_timeout_s = 60) const {
        httplib::Client cli("127.0.0.1", server.port());
        cli.set_read_timeout(read_timeout_s, 0);
        cli.set_connection_timeout(5, 0);
        return cli;
    }
    Server server;
};

inline std::string read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string init_image_base64() {
    const std::string png = read_file_bytes(difu::test::fixture_path("sd1-tiny/init_image.png"));
    return base64_encode(std::span(reinterpret_cast<const uint8_t*>(png.data()), png.size()));
}

inline std::vector<uint8_t> decode_b64(const std::string& s) { return base64_decode(s, "test"); }

// Status of a raw HTTP exchange (for what httplib::Client will not send); 0 when no status line came.
inline int raw_http_status(int port, const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int status = 0;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
        char buf[512];
        const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
        if (n > 12 && std::string(buf, 5) == "HTTP/") status = std::atoi(buf + 9);
    }
    ::close(fd);
    return status;
}

// Polls `probe` every 10 ms for at most `limit`; true once it held.
template <typename Probe>
bool eventually(Probe probe, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (probe()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace difu::server::test
