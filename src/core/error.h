// core/error.h — difu's one error type: what went wrong, and where (file, tensor, field).
// Thrown by loaders and models; the front ends (cli/, server/) turn it into one line, never a crash.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace difu {

class Error : public std::runtime_error {
public:
    explicit Error(std::string message) : std::runtime_error(std::move(message)) {}

    // Error::at("model.safetensors", "tensor '{}' ends at byte {}", name, end)
    //   -> "model.safetensors: tensor 'x' ends at byte 12"
    template <typename... Args>
    static Error at(const std::string& where, fmt::format_string<Args...> f, Args&&... args) {
        return Error(where + ": " + fmt::format(f, std::forward<Args>(args)...));
    }
    template <typename... Args>
    static Error make(fmt::format_string<Args...> f, Args&&... args) {
        return Error(fmt::format(f, std::forward<Args>(args)...));
    }
};

// A value taken from hostile input, made fit for a one-line error message: at most 80 bytes shown,
// control characters replaced by '?'.
inline std::string printable(std::string_view s) {
    constexpr size_t kMaxShown = 80;
    std::string out(s.substr(0, kMaxShown));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    return s.size() > kMaxShown ? out + "..." : out;
}

// Precondition inside difu itself (a bug, not bad input): still an Error, so a front end reports it.
#define DIFU_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) throw ::difu::Error::make("internal check failed: " __VA_ARGS__);     \
    } while (0)

}  // namespace difu
