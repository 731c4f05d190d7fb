#include "pipeline/extra_networks.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/error.h"
#include "io/folder_scan.h"
#include "io/sha256.h"

namespace difu {
namespace {

namespace fs = std::filesystem;

const std::regex& tag_regex() {  // webui's re_extra_net
    static const std::regex re(R"(<(\w+):([^>]+)>)");
    return re;
}

constexpr size_t kLoraShortHashDigits = 12;  // webui's network_on_disk.shorthash
constexpr size_t kHashChunk = size_t{1} << 20;

float parse_multiplier(const std::string& text, const std::string& tag) {
    try {
        size_t used = 0;
        const float v = std::stof(text, &used);
        if (used == text.size() && std::isfinite(v)) return v;
    } catch (const std::exception&) {
    }
    throw Error::make("extra network {}: '{}' is not a number", tag, text);
}

}  // namespace

std::string strip_extra_networks(const std::string& prompt) { return std::regex_replace(prompt, tag_regex(), ""); }

LoraLibrary::LoraLibrary(std::string dir) : dir_(std::move(dir)) { refresh(); }

void LoraLibrary::refresh() {
    std::map<std::string, std::string> found;
    for (const fs::path& p : files_under(dir_, {".safetensors", ".pt", ".ckpt"}, "LoRA files"))
        found.emplace(p.stem().string(), p.string());  // a name twice: the first path in sorted order
    std::lock_guard lock(mutex_);
    by_name_ = std::move(found);
}

std::map<std::string, std::string> LoraLibrary::entries() const {
    std::lock_guard lock(mutex_);
    return by_name_;
}

std::string LoraLibrary::find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) throw Error::make("LoRA '{}' is not in {} ({} LoRAs there)", name, dir_, by_name_.size());
    return it->second;
}

void add_prompt_loras(GenerateRequest& r, const LoraLibrary* library) {
    const std::string& prompt = r.prompt;
    for (auto it = std::sregex_iterator(prompt.begin(), prompt.end(), tag_regex()); it != std::sregex_iterator(); ++it) {
        const std::string kind = (*it)[1], tag = it->str();
        if (kind != "lora" && kind != "lyco")
            throw Error::make("extra network {}: difu applies <lora:...> networks, not '{}'", tag, kind);
        std::vector<std::string> positional;
        std::map<std::string, std::string> named;
        std::string args = (*it)[2];
        for (size_t start = 0; start <= args.size();) {
            const size_t colon = std::min(args.find(':', start), args.size());
            const std::string item = args.substr(start, colon - start);
            if (const size_t eq = item.find('='); eq != std::string::npos) named[item.substr(0, eq)] = item.substr(eq + 1);
            else positional.push_back(item);
            start = colon + 1;
        }
        if (positional.empty() || positional[0].empty()) throw Error::make("extra network {}: no LoRA name", tag);
        for (const auto& [key, value] : named)
            if (key != "te" && key != "unet") throw Error::make("extra network {}: difu reads te= and unet=, not '{}='", tag, key);
        if (positional.size() > 3) throw Error::make("extra network {}: difu reads name:te:unet (no dyn dim)", tag);
        LoraUse use;
        use.te = positional.size() > 1 ? parse_multiplier(positional[1], tag) : 1.0f;
        if (named.count("te")) use.te = parse_multiplier(named["te"], tag);
        use.unet = positional.size() > 2 ? parse_multiplier(positional[2], tag) : use.te;
        if (named.count("unet")) use.unet = parse_multiplier(named["unet"], tag);
        if (!library) throw Error::make("extra network {}: no LoRA folder to find '{}' in (--lora-dir DIR)", tag, positional[0]);
        use.path = library->find(positional[0]);
        r.loras.push_back(use);
    }
}

LoraUse parse_lora_option(const std::string& text) {
    LoraUse use{text};
    const size_t colon = text.rfind(':');
    if (colon != std::string::npos && colon + 1 < text.size() && !fs::exists(text)) {
        use.path = text.substr(0, colon);
        use.te = use.unet = parse_multiplier(text.substr(colon + 1), "--lora " + text);
    }
    return use;
}

std::string lora_short_hash(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error::at(path, "cannot open");
    if (fs::path(path).extension() == ".safetensors") {  // skip the 8-byte length and the JSON header
        uint64_t n = 0;
        in.read(reinterpret_cast<char*>(&n), sizeof n);
        if (!in || n > fs::file_size(path)) throw Error::at(path, "not a safetensors file");
        in.seekg(static_cast<std::streamoff>(8 + n));
    }
    Sha256 h;
    std::vector<uint8_t> buf(kHashChunk);
    while (in) {
        in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
        h.update({buf.data(), static_cast<size_t>(in.gcount())});
    }
    const auto digest = h.finish();
    return to_hex(digest).substr(0, kLoraShortHashDigits);
}

}  // namespace difu
