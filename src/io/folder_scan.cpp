#include "io/folder_scan.h"

#include <algorithm>

#include "core/error.h"

namespace difu {

std::vector<std::filesystem::path> files_under(const std::string& dir, std::initializer_list<std::string_view> extensions,
                                               std::string_view what) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error::at(dir, "is not a folder of {}", what);
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const std::string ext = it->path().extension().string();
        if (it->is_regular_file(ec) && std::find(extensions.begin(), extensions.end(), ext) != extensions.end())
            files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace difu
