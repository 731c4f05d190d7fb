// cli/safety_check_command.cpp — `difu safety-check IMAGE... --safety-checker PATH [--json]`: the SD
// safety checker's verdict on existing pictures (models/safety_checker.h). Exit 0 whatever the verdicts.
#include <fmt/format.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "io/image.h"
#include "models/safety_checker.h"

namespace difu::cli {
namespace {

void run_safety_check(const std::vector<std::string>& paths, const std::string& model, bool json) {
    const auto t0 = std::chrono::steady_clock::now();
    const SafetyChecker checker(model);
    const double load = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const std::string& path : paths) {  // one at a time: pictures of any size, bounded memory
        Arena arena;
        const Image picture = read_image(path, Alpha::Drop);
        const auto t1 = std::chrono::steady_clock::now();
        const SafetyVerdict v = checker.check({picture}, arena).front();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        if (json) {
            all.push_back({{"file", path}, {"nsfw", v.nsfw}, {"concept_scores", v.concept_scores},
                           {"special_scores", v.special_scores}, {"special_care", v.special_care}, {"seconds", seconds}});
            continue;
        }
        double worst = -1;
        for (double s : v.concept_scores) worst = std::max(worst, s);
        fmt::print("{}: {} (highest concept score {:.3f}{}; {:.2f} s)\n", path, v.nsfw ? "FLAGGED" : "ok", worst,
                   v.special_care ? ", special care" : "", seconds);
    }
    if (json) fmt::print("{}\n", nlohmann::ordered_json{{"images", all}}.dump(2));
    else fmt::print(stderr, "checker loaded in {:.2f} s\n", load);
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
