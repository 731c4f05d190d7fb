#include "io/ldm_yaml.h"

#include <yaml-cpp/yaml.h>

namespace difu {
namespace {

template <typename T>
void read_if(const YAML::Node& n, const char* key, T& out, const std::string& path) {
    if (!n || !n[key]) return;
    try {
        out = n[key].as<T>();
    } catch (const YAML::Exception&) {
        throw Error::at(path, "'{}' has a value of the wrong type", key);
    }
}

}  // namespace

void apply_ldm_yaml(const std::string& path, ModelConfig& cfg) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw Error::at(path, "not valid YAML: {}", e.what());
    }
    const YAML::Node params = root["model"] ? root["model"]["params"] : YAML::Node();
    if (!params || !params.IsMap()) throw Error::at(path, "no model.params section: not an LDM inference config");
    std::string parameterization;
    read_if(params, "parameterization", parameterization, path);
    if (parameterization == "v") cfg.schedule.prediction = Prediction::V;
    else if (parameterization == "eps" || parameterization.empty()) cfg.schedule.prediction = Prediction::Eps;
    else throw Error::at(path, "unknown parameterization '{}' (expected eps or v)", parameterization);
    if (!parameterization.empty()) cfg.schedule.prediction_known = true;
    read_if(params, "scale_factor", cfg.vae.scale_factor, path);
    read_if(params, "linear_start", cfg.schedule.linear_start, path);
    read_if(params, "linear_end", cfg.schedule.linear_end, path);
    read_if(params, "timesteps", cfg.schedule.timesteps, path);
    const YAML::Node unet = params["unet_config"] ? params["unet_config"]["params"] : YAML::Node();
    read_if(unet, "num_heads", cfg.unet.num_heads, path);
    read_if(unet, "num_head_channels", cfg.unet.num_head_channels, path);
    read_if(unet, "context_dim", cfg.unet.context_dim, path);
    read_if(unet, "use_linear_in_transformer", cfg.unet.use_linear_in_transformer, path);
    if (cfg.unet.num_head_channels > 0) cfg.unet.num_heads = -1;  // as openaimodel: head width wins
    cfg.config_source = path;
}

}  // namespace difu
