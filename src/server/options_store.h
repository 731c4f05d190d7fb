// server/options_store.h — webui's settings object behind GET/POST /sdapi/v1/options. A few settings
// change what difu does (randn_source, CLIP_stop_at_last_layers, eta_ddim, sd_model_checkpoint);
// every other key a client writes is kept as written and read back, as webui clients expect.
#pragma once
#include <mutex>
#include <string>

#include "server/json_fields.h"
#include "server/model_info.h"

namespace difu::server {

// Bounds on what clients may store: keys, and the store's size as JSON text.
inline constexpr size_t kMaxOptionKeys = 512;
inline constexpr size_t kMaxOptionsBytes = size_t{1} << 20;

// Checks an option difu applies (value type and range; randn_source one of webui's "GPU", "CPU", "NV");
// any other key passes. Throws ApiError 400 naming `where` + key.
void check_option(const std::string& key, const Json& value, const Resolvers& names, const std::string& where);

class OptionsStore {
public:
    // `first` is the checkpoint served at start; `names` resolve sd_model_checkpoint and sd_vae writes.
    OptionsStore(const ModelInfo& first, Resolvers names);

    Json get() const;
    // Merges `changes` (an object) in, all or nothing: any bad value, or a store past the bounds,
    // throws ApiError 400 and leaves the store as it was.
    void update(const Json& changes);

private:
    Resolvers names_;
    mutable std::mutex mutex_;
    Json values_;
};

}  // namespace difu::server
