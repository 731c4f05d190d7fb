// io/png_info.h — webui's infotext, the "parameters" text stored in every picture it saves:
//   <prompt, any number of lines>
//   Negative prompt: <negative prompt>                      (only when there is one)
//   Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512, ...
// Written as AUTOMATIC1111's processing.create_infotext writes it and read back as
// infotext_utils.parse_generation_parameters reads it, so pictures move between difu and webui.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace difu {

struct GenerationInfo {
    std::string prompt;
    std::string negative_prompt;                // "" = no "Negative prompt:" line
    int steps = 20;
    std::string sampler = "Euler a";            // webui's sampler label, e.g. "DPM++ 2M"
    std::string schedule_type;                  // "Karras", "Automatic", ...; "" = not written
    double cfg_scale = 7.0;
    int64_t seed = -1;
    int width = 512, height = 512;
    std::string model_hash;                     // 10 hex digits (model_hash()); "" = not written
    std::string model_name;                     // checkpoint file name without extension; "" = not written
    std::optional<double> denoising_strength;   // img2img only
    int clip_skip = 1;                          // written only when > 1, as webui does
    std::string rng;                            // "CPU", "NV"; "" or "GPU" (webui's default) = not written
    std::string version;                        // e.g. "difu 0.1.0"; "" = not written
    // Further "Key: value" pairs, written after RNG and before Version in this order; a pair whose
    // value equals its key is written bare ("Tiling"-style flags), as webui does.
    std::vector<std::pair<std::string, std::string>> extra;

    bool operator==(const GenerationInfo&) const = default;
};

std::string format_infotext(const GenerationInfo& info);
// Throws Error when a known key holds a value of the wrong kind ("Steps: many").
GenerationInfo parse_infotext(const std::string& text);

// infotext_utils.quote / unquote: a value with ',', ':' or a newline becomes a JSON string.
std::string quote_infotext_value(const std::string& value);
std::string unquote_infotext_value(const std::string& value);

// webui's "Model hash": the first 10 hex digits of the SHA-256 of the whole checkpoint file
// (sd_models.CheckpointInfo.shorthash). Reads the file once, ~1 GB/s with SHA-NI.
std::string model_hash(const std::string& checkpoint_path);

}  // namespace difu
