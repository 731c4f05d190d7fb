#include "server/vae_catalog.h"

#include <filesystem>

#include "io/folder_scan.h"

namespace difu::server {
namespace fs = std::filesystem;

VaeCatalog::VaeCatalog(std::string dir) : dir_(std::move(dir)) { entries_ = scan(); }

std::vector<VaeEntry> VaeCatalog::scan() const {
    std::vector<VaeEntry> out;
    for (const fs::path& p : files_under(dir_, {".safetensors", ".pt", ".ckpt"}, "VAEs"))
        out.push_back({p.filename().string(), fs::absolute(p).string()});
    return out;
}

std::vector<VaeEntry> VaeCatalog::list() const {
    std::lock_guard lock(mutex_);
    return entries_;
}

std::optional<std::string> VaeCatalog::find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    const fs::path root = fs::absolute(dir_);
    for (const VaeEntry& e : entries_)
        if (name == e.model_name || name == fs::path(e.filename).lexically_relative(root).generic_string() || name == e.filename)
            return e.filename;
    return std::nullopt;
}

void VaeCatalog::refresh() {
    std::vector<VaeEntry> fresh = scan();
    std::lock_guard lock(mutex_);
    entries_ = std::move(fresh);
}

}  // namespace difu::server
