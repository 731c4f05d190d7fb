#include "io/external_vae.h"

namespace difu {

Checkpoint with_external_vae(const Checkpoint& model, const ModelConfig& cfg, const std::string& vae_path) {
    const Checkpoint vae = load_checkpoint(vae_path);
    const std::string& prefix = cfg.vae_prefix;  // "first_stage_model."
    bool prefixed = false;
    for (const auto& [key, t] : vae.tensors)
        if (key.rfind(prefix, 0) == 0) prefixed = true;
    if (!prefixed && !vae.has("decoder.conv_in.weight")) {
        if (vae.has("decoder.up_blocks.0.resnets.0.conv1.weight"))
            throw Error::at(vae_path, "is a diffusers AutoencoderKL; difu reads VAE files with LDM names (first_stage_model.* or "
                                      "encoder.* / decoder.*)");
        throw Error::at(vae_path, "is not a VAE (no decoder.conv_in.weight)");
    }
    Checkpoint out = model;  // tensors are views: each replaced one keeps the VAE file's mapping alive
    size_t replaced = 0;
    for (auto& [key, t] : out.tensors) {
        if (key.rfind(prefix, 0) != 0) continue;
        const std::string name = prefixed ? key : key.substr(prefix.size());
        auto it = vae.tensors.find(name);
        if (it == vae.tensors.end()) throw Error::at(vae_path, "has no tensor '{}' (the model's VAE has it)", name);
        if (it->second.shape() != t.shape())
            throw Error::at(vae_path, "tensor '{}' is {}, the model's is {}: a VAE for another model family?", name,
                            shape_str(it->second.shape()), shape_str(t.shape()));
        t = it->second;
        ++replaced;
    }
    if (replaced == 0) throw Error::at(model.path, "has no VAE tensors to replace");
    return out;
}

}  // namespace difu
