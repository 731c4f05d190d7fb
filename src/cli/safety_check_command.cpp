// cli/safety_check_command.cpp — `difu safety-check IMAGE... --safety-checker PATH [--json]`: the SD
// safety checker's verdict on existing pictures (models/safety_checker.h). Exit 0 whatever the verdicts.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/image.h"
#include "models/safety_checker.h"

namespace difu::cli {
namespace {

void run_safety_check(const std::vector<std::string>& paths, const std::string& model, bool json) {
    const SafetyChecker checker(model);
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const std::string& path : paths) {  // one at a time: pictures of any size, bounded memory
        Arena arena;
        const SafetyVerdict v = checker.check({read_image(path, Alpha::Drop)}, arena).front();
        if (json) {
            all.push_back({{"file", path}, {"nsfw", v.nsfw}, {"concept_scores", v.concept_scores},
                           {"special_scores", v.special_scores}, {"special_care", v.special_care}});
            continue;
        }
        double worst = -1;
        for (double s : v.concept_scores) worst = std::max(worst, s);
        fmt::print("{}: {} (highest concept score {:.3f}{})\n", path, v.nsfw ? "FLAGGED" : "ok", worst,
                   v.special_care ? ", special care" : "");
    }
    if (json) fmt::print("{}\n", nlohmann::ordered_json{{"images", all}}.dump(2));
}

}  // namespace

void add_safety_check_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("safety-check", "The SD safety checker's verdict on existing pictures");
    auto paths = std::make_shared<std::vector<std::string>>();
    auto model = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("images", *paths, "Pictures (PNG, JPEG, WebP)")->required();
    cmd->add_option("--safety-checker", *model,
                    "CompVis/stable-diffusion-safety-checker: its folder, or model.safetensors / pytorch_model.bin")->required();
    cmd->add_flag("--json", *json, "{\"images\": [{file, nsfw, concept_scores, special_scores}, ...]}");
    cmd->callback([=] { run_safety_check(*paths, *model, *json); });
}

}  // namespace difu::cli
