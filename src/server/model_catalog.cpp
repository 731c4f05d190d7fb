#include "server/model_catalog.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "io/folder_scan.h"

namespace difu::server {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDiffusersIndex = "model_index.json";

bool is_under(const fs::path& p, const fs::path& dir) {
    const auto rel = p.lexically_relative(dir);
    return !rel.empty() && *rel.begin() != "..";
}

uint64_t bytes_of(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) return fs::file_size(p, ec);
    uint64_t total = 0;
    for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const std::string ext = it->path().extension().string();
        if (it->is_regular_file(ec) && (ext == ".safetensors" || ext == ".bin")) total += it->file_size(ec);
    }
    return total;
}

// webui's CheckpointInfo names: name = the path relative to the folder, model_name = it without the
// extension, separators replaced by '_'; title = name [shorthash] once the hash is known.
ModelInfo describe_entry(const fs::path& path, const fs::path& root) {
    ModelInfo m;
    m.filename = fs::absolute(path).string();
    const std::string name = path.lexically_relative(root).generic_string();
    m.title = name;
    std::string stem = (path.parent_path().lexically_relative(root) / path.stem()).generic_string();
    if (stem.rfind("./", 0) == 0) stem = stem.substr(2);
    std::replace(stem.begin(), stem.end(), '/', '_');
    m.model_name = stem;
    return m;
}

}  // namespace

ModelCatalog::ModelCatalog(DiffusionPipeline& first, CatalogConfig config)
    : first_(first), first_info_(describe_model(first)), config_(std::move(config)) {
    entries_ = scan();
}

std::vector<ModelCatalog::Entry> ModelCatalog::scan() const {
    std::vector<Entry> out;
    if (config_.models_dir.empty()) return out;
    const fs::path root = fs::absolute(config_.models_dir);
    std::vector<fs::path> diffusers;
    for (const fs::path& index : files_under(root.string(), {".json"}, "checkpoints"))
        if (index.filename() == kDiffusersIndex) diffusers.push_back(index.parent_path());
    std::vector<fs::path> found = diffusers;
    for (const fs::path& f : files_under(root.string(), {".safetensors", ".ckpt"}, "checkpoints"))
        if (std::none_of(diffusers.begin(), diffusers.end(), [&](const fs::path& d) { return is_under(f, d); }))
            found.push_back(f);
    std::sort(found.begin(), found.end());
    for (const fs::path& p : found) {
        std::error_code ec;
        if (fs::equivalent(p, first_info_.filename, ec)) continue;  // the --model one is listed first already
        out.push_back(Entry{describe_entry(p, root), bytes_of(p)});
    }
    return out;
}

void ModelCatalog::refresh() {
    std::vector<Entry> fresh = scan();
    std::lock_guard lock(mutex_);
    for (Entry& e : fresh)  // keep what loading learnt (the hash)
        if (const Entry* old = entry_of(e.info.filename); old && !old->info.hash.empty()) e.info = old->info;
    // A loaded model whose file is gone from the folder is released.
    std::erase_if(loaded_, [&](const auto& l) {
        return std::none_of(fresh.begin(), fresh.end(), [&](const Entry& e) { return e.info.filename == l.first; });
    });
    entries_ = std::move(fresh);
}

std::vector<ModelInfo> ModelCatalog::list() const {
    std::lock_guard lock(mutex_);
    std::vector<ModelInfo> out{first_info_};
    for (const Entry& e : entries_) out.push_back(e.info);
    return out;
}

std::optional<ModelInfo> ModelCatalog::find(const std::string& name) const {
    if (name.empty()) return std::nullopt;
    if (names_model(first_info_, name)) return first_info_;
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_) {
        const std::string relative = e.info.hash.empty() ? e.info.title : e.info.title.substr(0, e.info.title.size() - e.info.hash.size() - 3);
        if (names_model(e.info, name) || name == relative) return e.info;
    }
    return std::nullopt;
}

ModelCatalog::Entry* ModelCatalog::entry_of(const std::string& filename) {
    for (Entry& e : entries_)
        if (e.info.filename == filename) return &e;
    return nullptr;
}

std::pair<std::shared_ptr<DiffusionPipeline>, ModelInfo> ModelCatalog::acquire(const std::string& filename) {
    if (filename == first_info_.filename) return {std::shared_ptr<DiffusionPipeline>(&first_, [](DiffusionPipeline*) {}), first_info_};
    std::unique_lock lock(mutex_);
    Entry* e = entry_of(filename);
    if (!e) throw Error::at(filename, "is not one of the server's checkpoints (refresh-checkpoints removed it?)");
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it)
        if (it->first == filename) {
            loaded_.splice(loaded_.begin(), loaded_, it);
            return {it->second, e->info};
        }
    // Make room first: what the new model needs, the models kept so far in order of use.
    const uint64_t need = e->bytes;
    uint64_t kept = 0;
    for (auto it = loaded_.begin(); it != loaded_.end();) {
        const Entry* le = entry_of(it->first);  // (found: refresh() releases the models it drops)
        const uint64_t b = le ? le->bytes : 0;
        if (kept + b + need > config_.memory_budget_bytes) it = loaded_.erase(it);
        else kept += b, ++it;
    }
    lock.unlock();  // loading takes seconds; the lists stay answerable
    auto pipe = std::make_shared<DiffusionPipeline>(filename, config_.precision);
    if (config_.prepare) config_.prepare(*pipe);
    ModelInfo info = describe_model(*pipe);
    lock.lock();
    if (Entry* now = entry_of(filename)) {  // refresh() may have rebuilt the list meanwhile
        if (now->info.hash.empty()) info.title = now->info.title + " [" + info.hash + "]";
        else info.title = now->info.title;
        info.model_name = now->info.model_name;
        now->info = info;
    }
    loaded_.emplace_front(filename, pipe);
    return {pipe, info};
}

std::vector<std::string> ModelCatalog::loaded() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [f, p] : loaded_) out.push_back(f);
    return out;
}

}  // namespace difu::server
