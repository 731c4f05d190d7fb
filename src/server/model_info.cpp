#include "server/model_info.h"

#include <filesystem>


namespace difu::server {

ModelInfo describe_model(DiffusionPipeline& pipe) {
    namespace fs = std::filesystem;
    ModelInfo m;
    const fs::path path = fs::absolute(pipe.model_path());
    m.filename = path.string();
    m.model_name = pipe.model_name();
    m.sha256 = pipe.model_sha256();
    m.hash = pipe.model_hash();
    m.title = path.filename().string() + " [" + m.hash + "]";
    if (!pipe.vae_path().empty()) {
        m.vae_name = fs::path(pipe.vae_path()).filename().string();
        m.vae_hash = pipe.vae_hash();
    }
    return m;
}

bool names_model(const ModelInfo& m, const std::string& name) {
    const std::string file = std::filesystem::path(m.filename).filename().string();
    return name == m.title || name == file || name == m.model_name || name == m.hash || name == m.sha256 ||
           name == m.filename;
}

}  // namespace difu::server
