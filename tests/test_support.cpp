#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"

namespace difu::test {

std::string shared_path(const std::string& rel) { return std::string(DIFU_SHARED_DIR) + "/" + rel; }
std::string fixture_path(const std::string& rel) { return shared_path("fixtures/" + rel); }
std::string source_path(const std::string& rel) { return std::string(DIFU_SOURCE_DIR) + "/" + rel; }
std::string difu_binary() { return DIFU_BINARY; }

std::string temp_dir() {
    static std::string dir = [] {
        auto p = std::filesystem::temp_directory_path() / ("difu-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p.string();
    }();
    return dir;
}

std::vector<float> timesteps_of(const Tensor& t) {
    Tensor f = t.to(DType::F32);
    return {f.f32().begin(), f.f32().end()};
}

std::vector<int> token_ids(const Tensor& tokens) {
    Tensor c = tokens.contiguous();
    std::vector<int> ids;
    for (int64_t i = 0; i < c.numel(); ++i) ids.push_back(static_cast<int>(c.data<int64_t>()[i]));
    return ids;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape())
        throw Error::make("max_abs_diff: shapes {} and {} differ", shape_str(a.shape()), shape_str(b.shape()));
    Tensor fa = a.dtype() == DType::F32 ? a.contiguous() : a.to(DType::F32);
    Tensor fb = b.dtype() == DType::F32 ? b.contiguous() : b.to(DType::F32);
    double m = 0;
    auto x = fa.f32(), y = fb.f32();
    for (size_t i = 0; i < x.size(); ++i) {
        double d = std::fabs(static_cast<double>(x[i]) - y[i]);
        if (std::isnan(d)) return INFINITY;
        m = std::max(m, d);
    }
    return m;
}

int run_command(const std::string& cmd, std::string* output) {
    std::string full = cmd + " 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) return -1;
    std::array<char, 4096> buf;
    std::string out;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int status = ::pclose(p);
    if (output) *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string flag_all_safety_checker() {
    namespace fs = std::filesystem;
    static const std::string dir = [] {
        const std::string d = temp_dir() + "/flag-all-checker";
        fs::create_directories(d);
        fs::copy_file(fixture_path("safety-checker-tiny/config.json"), d + "/config.json", fs::copy_options::overwrite_existing);
        const Checkpoint model = load_checkpoint(fixture_path("safety-checker-tiny/model.safetensors"));
        std::vector<NamedTensor> tensors;
        for (const auto& [name, t] : model.tensors) {
            if (name != "concept_embeds_weights") {
                tensors.push_back({name, t});
                continue;
            }
            Tensor low = Tensor::empty({t.numel()});
            for (float& v : low.f32_mut()) v = -1.0f;
            tensors.push_back({name, low});
        }
        write_safetensors(d + "/model.safetensors", tensors, {});
        return d;
    }();
    return dir;
}

}  // namespace difu::test
