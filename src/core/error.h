// core/error.h — difu's one error type: what went wrong, and where (file, tensor, field).
// Thrown by loaders and models; the front ends (cli/, server/) turn it into one line, never a crash.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

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

// Precondition inside difu itself (a bug, not bad input): still an Error, so a front end reports it.
#define DIFU_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) throw ::difu::Error::make("internal check failed: " __VA_ARGS__);     \
    } while (0)

}  // namespace difu
