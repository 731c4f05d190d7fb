// tests/server/serve_cli_test.cpp — `difu serve` as an operator runs it: it comes up on the given
// port, applies its flags, logs requests on stderr, and stops cleanly on SIGTERM; bad flags fail
// with one line and exit code 2 before the model loads.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "server_fixture.h"

using namespace difu::server::test;

namespace {

int free_port() {  // the kernel's pick, released for the child to take (a small window, loopback only)
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

pid_t spawn_difu(const std::vector<std::string>& args, const std::string& stderr_path) {
    std::vector<std::string> argv_s = {difu::test::difu_binary()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

// The exit status once the child has exited, or -1 after `limit` (the child is then killed).
int wait_exit(pid_t pid, std::chrono::seconds limit) {
    int status = 0;
    const bool exited = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit);
    if (!exited) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(ServerCli, ServeComesUpAppliesItsFlagsAndStopsOnSigterm) {
    const int port = free_port();
    const std::string err = difu::test::temp_dir() + "/serve-stderr.txt";
    const pid_t pid = spawn_difu({"serve", "-m", difu::test::fixture_path("sd1-tiny/model.safetensors"), "--port",
                                  std::to_string(port), "--precision", "fp32", "--api-key", "k", "--max-steps", "10"},
                                 err);
    ASSERT_GT(pid, 0);
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(1, 0);
    ASSERT_TRUE(eventually([&] {
        auto r = cli.Get("/health");
        return r && r->status == 200;
    })) << read_file_bytes(err);
    EXPECT_EQ(cli.Get("/sdapi/v1/sd-models")->status, 401);
    cli.set_bearer_token_auth("k");
    EXPECT_EQ(cli.Get("/sdapi/v1/sd-models")->status, 200);
    auto refused = cli.Post("/sdapi/v1/txt2img", R"({"steps": 11, "width": 64, "height": 64})", "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_NE(refused->body.find("steps must be between 1 and 10"), std::string::npos) << refused->body;
    ::kill(pid, SIGTERM);
    EXPECT_EQ(wait_exit(pid, std::chrono::seconds(20)), 0);
    const std::string log = read_file_bytes(err);
    EXPECT_NE(log.find("serving on http://127.0.0.1:" + std::to_string(port)), std::string::npos) << log;
    EXPECT_NE(log.find(R"("event":"request")"), std::string::npos) << log;
    EXPECT_NE(log.find("SIGTERM received, stopping"), std::string::npos) << log;
}

TEST(ServerCli, BadFlagsFailWithOneLineBeforeLoading) {
    for (const char* flags : {"--rate-limit 5/day", "--api-auth nocolon", "--api-key-file /nonexistent/keys", "--port 0"}) {
        std::string out;
        const int rc = difu::test::run_command(difu::test::difu_binary() + " serve -m /nonexistent.safetensors " + flags, &out);
        EXPECT_EQ(rc, 2) << flags << ": " << out;
        EXPECT_NE(out.find("difu: error:"), std::string::npos) << flags << ": " << out;
        EXPECT_EQ(out.find("nonexistent.safetensors"), std::string::npos) << flags << ": the model was opened first";
    }
}
