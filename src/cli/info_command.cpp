// cli/info_command.cpp — `difu info IMAGE [--json]`: the generation parameters (webui infotext) an
// image carries: PNG text chunks, or the EXIF UserComment of a JPEG / WebP.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "io/image.h"
#include "io/png_info.h"

namespace difu::cli {
namespace {

void run_info(const std::string& path, bool json) {
    const TextChunks text = read_image_text(path);
    std::string parameters;
    for (const auto& [k, v] : text)
        if (k == "parameters") parameters = v;
    if (!json) {
        if (parameters.empty()) throw Error::at(path, "no generation parameters in this image");
        fmt::print("{}\n", parameters);
        return;
    }
    nlohmann::ordered_json j;
    j["path"] = path;
    for (const auto& [k, v] : text) j["text"][k] = v;
    if (!parameters.empty()) {
        const GenerationInfo g = parse_infotext(parameters);
        j["parameters"] = {{"prompt", g.prompt}, {"negative_prompt", g.negative_prompt}, {"steps", g.steps},
                           {"sampler", g.sampler}, {"schedule_type", g.schedule_type}, {"cfg_scale", g.cfg_scale},
                           {"seed", g.seed}, {"width", g.width}, {"height", g.height}, {"model_hash", g.model_hash},
                           {"model", g.model_name}, {"clip_skip", g.clip_skip}, {"rng", g.rng}, {"version", g.version}};
        for (const auto& [k, v] : g.extra) j["parameters"][k] = v;
    }
    fmt::print("{}\n", j.dump(2));
}

}  // namespace

void add_info_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "Show the generation parameters stored in an image (webui infotext)");
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("image", *path, "PNG, JPEG or WebP file")->required();
    cmd->add_flag("--json", *json, "Machine-readable output");
    cmd->callback([path, json] { run_info(*path, *json); });
}

}  // namespace difu::cli
