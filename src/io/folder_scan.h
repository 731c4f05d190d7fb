// io/folder_scan.h — the files of a user's folder of add-ons (LoRAs, embeddings), as webui finds them:
// every regular file below it, recursively, whose extension is one of the kind's.
#pragma once
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace difu {

// Sorted paths; unreadable subfolders are skipped. Throws Error "DIR is not a folder of <what>" when
// `dir` is not a directory.
std::vector<std::filesystem::path> files_under(const std::string& dir, std::initializer_list<std::string_view> extensions,
                                               std::string_view what);

}  // namespace difu
