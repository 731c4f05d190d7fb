// cli/commands.h — the difu subcommands. Each registers its options on a CLI11 subcommand and
// runs when that subcommand was given; errors propagate as difu::Error to main(), which prints
// one line and exits with code 2.
#pragma once
#include <CLI/CLI.hpp>

namespace difu::cli {

inline constexpr int kExitBadInput = 2;

void add_inspect_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_make_random_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_watermark_command(CLI::App& app);
void add_safety_check_command(CLI::App& app);

}  // namespace difu::cli
