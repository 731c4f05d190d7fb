// cli/convert_command.cpp — `difu convert IN OUT [--dtype f16]`: a checkpoint (single file or diffusers
// folder) written as a single .safetensors file or as a diffusers folder, optionally cast to f32 / f16
// / bf16. io/checkpoint_convert does the writing, one tensor at a time.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "cli/commands.h"
#include "io/checkpoint_convert.h"
#include "io/diffusers_folder.h"
#include "io/model_family.h"
#include "pipeline/pipeline.h"
#include "text/clip_tokenizer_files.h"

namespace difu::cli {
namespace {

struct ConvertOptions {
    std::string input, output, dtype = "keep", to = "auto";
};

std::optional<DType> parse_dtype(const std::string& s) {
    if (s == "keep") return std::nullopt;
    if (s == "f32" || s == "fp32") return DType::F32;
    if (s == "f16" || s == "fp16") return DType::F16;
    if (s == "bf16") return DType::BF16;
    throw Error::make("--dtype must be keep, f32, f16 or bf16, got '{}'", s);
}

void run_convert(const ConvertOptions& o) {
    const std::optional<DType> dtype = parse_dtype(o.dtype);
    std::string to = o.to;
    if (to == "auto") to = std::filesystem::path(o.output).extension() == ".safetensors" ? "single" : "diffusers";
    if (to != "single" && to != "diffusers") throw Error::make("--to must be auto, single or diffusers, got '{}'", o.to);
    const auto t0 = std::chrono::steady_clock::now();
    const Checkpoint ck = load_checkpoint(o.input);
    ModelConfig cfg = detect_model(ck);
    if (to == "single") {
        for (const TextEncoderConvention& c : describe(cfg.family).text_encoders)
            if (is_diffusers_folder(o.input) && c.diffusers_dropped_layers > 0)
                throw Error::at(o.input, "diffusers stores this {} text encoder without its last {} layer(s), which a "
                                         "single file has; convert from the original single file instead",
                                describe(cfg.family).name, c.diffusers_dropped_layers);
        write_single_file(ck, o.output, dtype);
    } else {
        if (!cfg.supported()) throw Error::at(o.input, "{}", cfg.unsupported_reason());
        if (!cfg.schedule.prediction_known) {  // SD 2.x without a yaml: ask the UNet, as generate does
            DiffusionPipeline probe(o.input, Precision::FP32, ModelResidency::OneAtATime);
            cfg.schedule.prediction = probe.prediction();
            cfg.schedule.prediction_known = true;
            fmt::print(stderr, "{} predicts {} (webui's UNet probe; put the model's .yaml beside it to say so)\n",
                       o.input, cfg.schedule.prediction == Prediction::V ? "v" : "eps");
        }
        for (const TokenizerFolder& t : write_diffusers_folder(ck, cfg, o.output, dtype))
            write_clip_tokenizer_folder((std::filesystem::path(o.output) / t.folder).string(), t.pad_token);
    }
    fmt::print("{}: {} written as {} ({}) in {:.1f} s\n", o.output, cfg.display_name(),
               to == "single" ? "a single file" : "a diffusers folder", dtype ? dtype_name(*dtype) : "dtypes kept",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

void add_convert_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("convert", "Write a checkpoint as a single .safetensors file or a diffusers folder, "
                                              "optionally in another float type");
    auto o = std::make_shared<ConvertOptions>();
    cmd->add_option("input", o->input, "Checkpoint (.safetensors, .ckpt) or diffusers folder")->required();
    cmd->add_option("output", o->output, "OUT.safetensors (single file) or a folder (diffusers)")->required();
    cmd->add_option("--dtype", o->dtype, "keep, f32, f16 or bf16 (floating tensors; integer ones stay)")->capture_default_str();
    cmd->add_option("--to", o->to, "auto (by OUT's extension), single or diffusers")->capture_default_str();
    cmd->callback([o] { run_convert(*o); });
}

}  // namespace difu::cli
