// server/base64.h — RFC 4648 base64, the encoding webui's API uses for every image.
// decode treats its input as hostile: it accepts only the standard alphabet, ASCII whitespace
// (line breaks from some encoders) and correct '=' padding (or none), and says what it found and where.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace difu::server {

std::string base64_encode(std::span<const uint8_t> bytes);
// Throws Error::at(name, ...) for a character outside the alphabet, misplaced padding or a length
// that no encoding produces (one stray character in the last group).
std::vector<uint8_t> base64_decode(std::string_view text, const std::string& name);

// webui accepts an image as plain base64 or as a data URL ("data:image/png;base64,...."):
// the payload after "base64," when there is such a prefix, else the text itself.
std::string_view strip_data_url(std::string_view text);

}  // namespace difu::server
