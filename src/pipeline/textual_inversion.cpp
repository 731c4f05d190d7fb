#include "pipeline/textual_inversion.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "io/embedding_file.h"
#include "io/folder_scan.h"

namespace difu {
namespace {

namespace fs = std::filesystem;

}  // namespace

EmbeddingLibrary::EmbeddingLibrary(std::string dir, const ModelConfig& cfg) : dir_(std::move(dir)) {
    for (const TextConfig& t : cfg.text_encoders)
        encoders_.push_back({t.width, t.naming == TextConfig::Naming::HuggingFace ? "clip_l" : "clip_g"});
    refresh();
}

void EmbeddingLibrary::refresh() {
    const std::vector<fs::path> files = files_under(dir_, {".pt", ".safetensors", ".bin"}, "embeddings");
    auto set = std::make_shared<EmbeddingSet>();
    const ClipTokenizer& tokenizer = ClipTokenizer::default_instance();
    for (const fs::path& p : files) {
        EmbeddingFile e;
        try {
            e = read_embedding(p.string());
        } catch (const Error& err) {
            set->skipped.push_back({p.stem().string(), p.string(), err.what(), 0, 0});
            continue;
        }
        EmbeddingSet::Loaded l{e.name, e.path, e.vectors(), {}};
        std::string reason;
        const bool named = !e.parts.front().encoder.empty();
        if (named && e.parts.size() != encoders_.size()) reason = "an SDXL embedding (clip_l / clip_g) for another model";
        if (!named && encoders_.size() != 1) reason = "a one-encoder embedding for a model with two text encoders";
        for (const Encoder& enc : encoders_) {  // each encoder takes its part
            if (!reason.empty()) break;
            const EmbeddingFile::Part* fit = nullptr;
            for (const EmbeddingFile::Part& part : e.parts)
                if (part.encoder == (named ? enc.sdxl_part : "")) fit = &part;
            if (!fit || fit->vectors.dim(1) != enc.width) {
                reason = fmt::format("no {} vectors of width {} for this model's text encoder", named ? enc.sdxl_part : "", enc.width);
                break;
            }
            l.per_encoder.push_back(fit->vectors.to(DType::F32));
        }
        if (!reason.empty() || set->loaded.size() >= static_cast<size_t>(std::numeric_limits<int>::max())) {
            set->skipped.push_back({e.name, e.path, reason, e.vectors(), e.parts.front().vectors.dim(1)});
            continue;
        }
        set->vocabulary.add(tokenizer.encode(e.name), l.vectors, static_cast<int>(set->loaded.size()));
        set->loaded.push_back(std::move(l));
    }
    std::lock_guard lock(mutex_);
    set_ = std::move(set);
}

std::shared_ptr<const EmbeddingSet> EmbeddingLibrary::snapshot() const {
    std::lock_guard lock(mutex_);
    return set_;
}

}  // namespace difu
