// cli/main.cpp — the difu executable: git-style subcommands (`difu --help` lists them).
#include <CLI/CLI.hpp>

#include <algorithm>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "sampling/denoiser.h"

int main(int argc, char** argv) {
    CLI::App app{"difu " DIFU_VERSION " — Stable Diffusion in C++\n"
                 "Loads SD checkpoints (.safetensors, .ckpt) and runs the latent-diffusion pipeline on the CPU."};
    app.set_help_all_flag("--help-all", "Help for every subcommand");
    app.set_version_flag("--version", std::string("difu ") + DIFU_VERSION);
    int threads = 0;
    app.add_option("-t,--threads", threads, "Compute threads (default: the cores this process may use)")
        ->check(CLI::NonNegativeNumber);
    app.require_subcommand(1);
    app.fallthrough();  // global options (-t) may follow the subcommand
    difu::cli::add_inspect_command(app);
    difu::cli::add_tokenize_command(app);
    difu::cli::add_make_random_command(app);
    difu::cli::add_bench_command(app);
    difu::cli::add_generate_command(app);
    difu::cli::add_info_command(app);
    difu::cli::add_serve_command(app);
    difu::cli::add_convert_command(app);
    difu::cli::add_watermark_command(app);
    difu::cli::add_safety_check_command(app);
    app.parse_complete_callback([&] { difu::set_num_threads(threads); });
    // `difu -m model.safetensors -p "..."` means `difu generate ...`, as users of sd.cpp expect.
    std::vector<std::string> args(argv + 1, argv + argc);
    bool has_subcommand = false;
    for (const auto& a : args)
        for (const auto* sub : app.get_subcommands({}))
            if (a == sub->get_name()) has_subcommand = true;
    const bool asks_help = !args.empty() && (args[0] == "-h" || args[0] == "--help" || args[0] == "--help-all" ||
                                            args[0] == "--version");
    if (!has_subcommand && !args.empty() && args[0].rfind("-", 0) == 0 && !asks_help) args.insert(args.begin(), "generate");
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "difu: error: %s (see difu --help)\n", e.what());
        return difu::cli::kExitBadInput;
    } catch (const difu::Cancelled&) {
        std::fprintf(stderr, "difu: cancelled\n");
        return 130;
    } catch (const difu::Error& e) {
        std::fprintf(stderr, "difu: error: %s\n", e.what());
        return difu::cli::kExitBadInput;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "difu: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "difu: internal error: %s\n", e.what());
        return 1;
    }
    return 0;
}
