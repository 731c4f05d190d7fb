#include "cli/commands.h"
namespace difu::cli {
void add_tokenize_command(CLI::App&) {}
}  // namespace difu::cli
