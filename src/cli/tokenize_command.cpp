// cli/tokenize_command.cpp — `difu tokenize [--json] PROMPT`: the token ids per 77-token chunk with
// their weights, as webui's token counter sees the prompt.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "text/prompt_chunks.h"

namespace difu::cli {
namespace {

void run_tokenize(const std::string& prompt, bool json) {
    const TokenizedPrompt t = tokenize_prompt(ClipTokenizer::default_instance(), prompt);
    if (json) {
        nlohmann::json j;
        j["chunks"] = nlohmann::json::array();
        for (const auto& c : t.chunks) j["chunks"].push_back({{"ids", c.ids}, {"weights", c.weights}});
        j["tokens"] = t.token_count;
        fmt::print("{}\n", j.dump());
        return;
    }
    fmt::print("{} tokens in {} chunk{} ({}/{})\n", t.token_count, t.chunks.size(), t.chunks.size() == 1 ? "" : "s",
               t.token_count, kPromptChunkTokens * static_cast<int>(t.chunks.size()));
    for (size_t i = 0; i < t.chunks.size(); ++i) {
        const auto& c = t.chunks[i];
        // Show ids up to the end token; the rest is padding.
        size_t end = 1;
        while (end < c.ids.size() && c.ids[end] != kClipEndToken) ++end;
        std::vector<std::string> items;
        for (size_t k = 0; k <= end && k < c.ids.size(); ++k)
            items.push_back(c.weights[k] == 1.0f ? fmt::format("{}", c.ids[k]) : fmt::format("{}:{:.4g}", c.ids[k], c.weights[k]));
        fmt::print("chunk {}: {}{}\n", i, fmt::join(items, " "), end + 1 < c.ids.size() ? " (+ padding)" : "");
    }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("tokenize", "Show a prompt's CLIP token ids and weights per 77-token chunk "
                                               "(webui prompt syntax: (word:1.2), [word], BREAK)");
    auto prompt = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("prompt", *prompt, "The prompt")->required();
    cmd->add_flag("--json", *json, "Print {\"chunks\": [{\"ids\": [...], \"weights\": [...]}], \"tokens\": N}");
    cmd->callback([prompt, json] { run_tokenize(*prompt, *json); });
}

}  // namespace difu::cli
