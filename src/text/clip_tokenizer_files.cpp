#include "text/clip_tokenizer_files.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "text/clip_tokenizer.h"

namespace difu {
namespace {

using Json = nlohmann::ordered_json;
constexpr int kModelMaxLength = kClipChunkLength;

// transformers' AddedToken as its files write it.
Json added_token(const std::string& content, bool with_type) {
    Json t = {{"content", content}, {"lstrip", false}, {"normalized", true}, {"rstrip", false}, {"single_word", false}};
    if (with_type) t["__type"] = "AddedToken";
    return t;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) throw Error::at(path.string(), "write failed");
}

}  // namespace

void write_clip_tokenizer_folder(const std::string& dir, int pad_token) {
    const ClipVocabulary v = read_clip_vocabulary();
    if (pad_token < 0 || pad_token >= static_cast<int>(v.tokens.size()))
        throw Error::make("pad token {} is outside the CLIP vocabulary", pad_token);
    const std::filesystem::path root(dir);
    std::filesystem::create_directories(root);
    // In id order, spaced as Python's json.dump writes it (transformers' save_vocabulary).
    std::string vocab = "{";
    for (size_t id = 0; id < v.tokens.size(); ++id)
        vocab += (id ? ", " : "") + Json(v.tokens[id]).dump() + ": " + std::to_string(id);
    write_text(root / "vocab.json", vocab + "}");
    std::string merges = "#version: 0.2\n";
    for (const auto& [left, right] : v.merges) merges += left + " " + right + "\n";
    write_text(root / "merges.txt", merges);
    const std::string start(v.tokens[kClipStartToken]), end(v.tokens[kClipEndToken]), pad(v.tokens[pad_token]);
    const Json config = {{"add_prefix_space", false}, {"bos_token", added_token(start, true)}, {"do_lower_case", true},
                         {"eos_token", added_token(end, true)}, {"errors", "replace"},
                         {"model_max_length", kModelMaxLength}, {"pad_token", pad},
                         {"tokenizer_class", "CLIPTokenizer"}, {"unk_token", added_token(end, true)}};
    write_text(root / "tokenizer_config.json", config.dump(2) + "\n");
    const Json special = {{"bos_token", added_token(start, false)}, {"eos_token", added_token(end, false)},
                          {"pad_token", pad}, {"unk_token", added_token(end, false)}};
    write_text(root / "special_tokens_map.json", special.dump(2) + "\n");
}

}  // namespace difu
