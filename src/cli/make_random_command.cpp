// cli/make_random_command.cpp — `difu make-random`: a random-weight checkpoint with a released
// file's exact key layout, for benchmarks and memory tests.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "io/model_family.h"
#include "io/random_checkpoint.h"
#include "io/random_safety_checker.h"

namespace difu::cli {

void add_make_random_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("make-random",
                                   "Write a random-weight checkpoint with a real key layout (benchmarks, tests; "
                                   "its images are noise)");
    struct Options { std::string arch = "sd15", dtype = "f16", output; uint64_t seed = 0; };
    auto o = std::make_shared<Options>();
    cmd->add_option("-a,--arch", o->arch, "Architecture: sd15 (SD 1.5), sd21 (SD 2.1 512, eps), sd21-v (SD 2.1 768-v; "
                                          "a sidecar .yaml says v), sdxl, sdxl-refiner (SDXL 1.0), tiny (the sd1-tiny fixture's shapes), "
                                          "safety-checker (the released checker's layout, F32)")
        ->capture_default_str();
    cmd->add_option("--dtype", o->dtype, "Float dtype in the file: f32, f16 or bf16")->capture_default_str();
    cmd->add_option("-s,--seed", o->seed, "Seed of the random weights")->capture_default_str();
    cmd->add_option("-o,--output", o->output, "Output .safetensors path")->required();
    cmd->callback([o] {
        if (o->arch == "safety-checker") {
            const auto t0 = std::chrono::steady_clock::now();
            write_random_safety_checker(o->output, o->seed);
            fmt::print("wrote {} (safety-checker f32 random weights, seed {}) in {:.1f} s\n", o->output, o->seed,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            return;
        }
        DType dt = o->dtype == "f32" ? DType::F32 : o->dtype == "f16" ? DType::F16 : o->dtype == "bf16" ? DType::BF16
                 : throw Error::make("--dtype must be f32, f16 or bf16, not '{}'", o->dtype);
        const ModelConfig cfg = architecture_config(o->arch);
        const auto t0 = std::chrono::steady_clock::now();
        write_random_checkpoint(o->output, cfg, dt, o->seed);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        fmt::print("wrote {} ({} {} random weights, seed {}) in {:.1f} s\n", o->output, o->arch, o->dtype, o->seed, s);
        if (!describe(cfg.family).prediction_from_keys) {
            // The keys cannot say eps or v, and random weights cannot pass webui's probe: say it in the
            // LDM-yaml sidecar every loader (webui, difu) reads beside the checkpoint.
            const std::string yaml = std::filesystem::path(o->output).replace_extension(".yaml").string();
            std::ofstream(yaml) << "model:\n  params:\n    parameterization: \""
                                << (cfg.schedule.prediction == Prediction::V ? "v" : "eps") << "\"\n";
            fmt::print("wrote {} (parameterization)\n", yaml);
        }
    });
}

}  // namespace difu::cli
