// server/vae_catalog.h — difu serve --vae-dir: the VAE files a client may pick with webui's sd_vae
// option (GET /sdapi/v1/sd-vae, POST /sdapi/v1/refresh-vae). webui names a VAE by its file name.
#pragma once
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace difu::server {

struct VaeEntry {
    std::string model_name;  // the file name, webui's sd_vae value
    std::string filename;    // absolute path
};

class VaeCatalog {
public:
    // Throws Error when `dir` is not a folder.
    explicit VaeCatalog(std::string dir);
    std::vector<VaeEntry> list() const;
    // The file named `name` (its file name, or its path relative to the folder); nullopt if none.
    std::optional<std::string> find(const std::string& name) const;
    void refresh();

private:
    std::vector<VaeEntry> scan() const;
    const std::string dir_;
    mutable std::mutex mutex_;
    std::vector<VaeEntry> entries_;
};

}  // namespace difu::server
