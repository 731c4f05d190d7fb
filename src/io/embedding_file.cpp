#include "io/embedding_file.h"

#include <filesystem>

#include "io/checkpoint.h"

namespace difu {
namespace {

constexpr int64_t kMaxVectors = 75;  // at most a whole chunk of tokens

Tensor as_vectors(const std::string& path, const std::string& key, const Tensor& t) {
    if (!is_float(t.dtype())) throw Error::at(path, "'{}' is {}, not float vectors", key, dtype_name(t.dtype()));
    const Tensor v = t.ndim() == 1 ? t.reshape({1, t.dim(0)}) : t;
    if (v.ndim() != 2 || v.dim(0) < 1 || v.dim(0) > kMaxVectors || v.dim(1) < 1)
        throw Error::at(path, "'{}' is {}: an embedding is [vectors (1..{}), width]", key, shape_str(t.shape()), kMaxVectors);
    return v;
}

}  // namespace

EmbeddingFile read_embedding(const std::string& path) {
    const Checkpoint ck = load_checkpoint(path);
    EmbeddingFile e;
    e.path = path;
    e.name = std::filesystem::path(path).stem().string();
    if (ck.has("clip_l") || ck.has("clip_g")) {  // SDXL: one part per text encoder
        for (const char* part : {"clip_l", "clip_g"})
            if (ck.has(part)) e.parts.push_back({part, as_vectors(path, part, ck.get(part))});
        if (e.parts.size() == 2 && e.parts[0].vectors.dim(0) != e.parts[1].vectors.dim(0))
            throw Error::at(path, "clip_l has {} vectors and clip_g {}", e.parts[0].vectors.dim(0), e.parts[1].vectors.dim(0));
        return e;
    }
    for (const char* key : {"emb_params", "string_to_param.*"})
        if (ck.has(key)) {
            e.parts.push_back({"", as_vectors(path, key, ck.get(key))});
            return e;
        }
    if (ck.tensors.size() == 1) {  // diffusers' learned_embeds.bin: {"<token>": vector(s)}
        const auto& [key, t] = *ck.tensors.begin();
        e.parts.push_back({"", as_vectors(path, key, t)});
        return e;
    }
    throw Error::at(path, "not a textual-inversion embedding (no emb_params, string_to_param, clip_l / clip_g; {} tensors)",
                    ck.tensors.size());
}

}  // namespace difu
