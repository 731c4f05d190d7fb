// cli/watermark_command.cpp — `difu watermark detect IMAGE... [--bits N] [--json]` reads the dwtDct
// watermark of the SD releases (pipeline/watermark_dwtdct.h) as the release scripts' detectors do, and
// `difu watermark embed IN OUT [--message M]` marks an existing picture.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "io/image.h"
#include "pipeline/watermark_dwtdct.h"

namespace difu::cli {
namespace {

// sgm's scripts/demo/detect.py verdict from the number of SDXL bits that match.
const char* sdxl_verdict(int matching) {
    if (matching <= 27) return "no";
    if (matching <= 33) return "partial";
    if (matching <= 35) return "likely";
    return "very likely";
}

int matches(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    int n = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) n += a[i] == b[i];
    return n;
}

std::string printable(const std::string& bytes) {
    for (unsigned char c : bytes)
        if (c < 0x20 || c > 0x7e) return "";
    return bytes;
}

void run_detect(const std::vector<std::string>& paths, int length, bool json) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const std::string& path : paths) {
        const Image img = read_image(path, Alpha::Drop);
        const WatermarkReading r = detect_watermark_dwtdct(img, length);
        const std::string bytes = bytes_of_bits(r.bits);
        std::string hex;
        for (unsigned char c : bytes) hex += fmt::format("{:02x}", c);
        double confidence = 0;  // how far the votes are from a coin toss, 0..1, averaged over the bits
        for (double s : r.scores) confidence += std::abs(2 * s - 1) / static_cast<double>(r.scores.size());
        const int sd1 = length == 136 ? matches(r.bits, sd1_watermark_bits()) : -1;
        const int sdxl = matches(detect_watermark_dwtdct(img, 48).bits, sdxl_watermark_bits());
        if (json) {
            all.push_back({{"file", path}, {"bits", length}, {"hex", hex}, {"text", printable(bytes)},
                           {"scores", r.scores}, {"confidence", confidence}, {"sdxl_bits_matching", sdxl},
                           {"sdxl_verdict", sdxl_verdict(sdxl)}});
            if (sd1 >= 0) all.back()["sd1_bits_matching"] = sd1;
            continue;
        }
        fmt::print("{}: {} bits {}{} (confidence {:.2f})", path, length, hex,
                   printable(bytes).empty() ? "" : " \"" + printable(bytes) + "\"", confidence);
        if (sd1 >= 0) fmt::print("; StableDiffusionV1 {}/136 bits", sd1);
        fmt::print("; SDXL mark {}/48 bits: {}\n", sdxl, sdxl_verdict(sdxl));
    }
    if (json) fmt::print("{}\n", nlohmann::ordered_json{{"images", all}}.dump(2));
}

}  // namespace

void add_watermark_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("watermark", "The invisible dwtDct watermark of the SD releases: detect or embed");
    cmd->require_subcommand(1);
    auto* detect = cmd->add_subcommand("detect", "Read the dwtDct watermark of pictures (invisible-watermark's decoder)");
    auto paths = std::make_shared<std::vector<std::string>>();
    auto length = std::make_shared<int>(136);
    auto json = std::make_shared<bool>(false);
    detect->add_option("images", *paths, "Pictures (PNG, JPEG, WebP)")->required();
    detect->add_option("--bits", *length, "Message length: 136 (SD 1.x 'StableDiffusionV1'), 48 (SDXL), ...")
        ->capture_default_str()->check(CLI::Range(1, 4096));
    detect->add_flag("--json", *json, "One JSON object: {\"images\": [{file, hex, text, scores, ...}]}");
    detect->callback([=] { run_detect(*paths, *length, *json); });
    auto* embed = cmd->add_subcommand("embed", "Mark a picture with the dwtDct watermark (SD 1.x's put_watermark)");
    auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>();
    auto message = std::make_shared<std::string>("sd1");
    embed->add_option("input", *in, "Picture to mark")->required();
    embed->add_option("output", *out, "Where to write it (.png keeps it exact)")->required();
    embed->add_option("--message", *message, "sd1 ('StableDiffusionV1'), sdxl (0xB3EC907BB19E), hex:DIGITS or any text")
        ->capture_default_str();
    embed->callback([=] {
        const Image marked = embed_watermark_dwtdct(read_image(*in, Alpha::Keep), parse_watermark_message(*message));
        write_png(*out, marked);
        fmt::print("{}: marked with {} bits\n", *out, parse_watermark_message(*message).size());
    });
}

}  // namespace difu::cli
