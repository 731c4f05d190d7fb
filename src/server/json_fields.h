// server/json_fields.h — reading a client's JSON the way webui's pydantic models do: a field may be
// absent or null (then the default holds), otherwise it must have its declared type, and every
// mistake becomes a 400 naming the field ("steps: expected an integer, got string \"20\"").
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace difu::server {

using Json = nlohmann::json;

// Nesting deeper than this is refused while parsing: nothing webui sends nests more than a few
// levels, and answering would otherwise recurse once per level (dump, copies).
inline constexpr int kMaxJsonDepth = 32;

// The body as JSON; throws ApiError 400 for malformed or too deeply nested JSON. `what` names the
// body in messages ("request body").
Json parse_json(const std::string& body, const std::string& what = "request body");
// The same, and the top level must be an object.
Json parse_json_object(const std::string& body, const std::string& what = "request body");

// "string \"20\"", "array", "null": how a value shows up in an error message (truncated).
std::string describe_json(const Json& value);

// Typed access to one JSON object's fields; `where` prefixes field names ("override_settings.").
class FieldReader {
public:
    explicit FieldReader(const Json& object, std::string where = "") : obj_(object), where_(std::move(where)) {}

    bool has(const char* key) const;  // present and not null
    std::optional<std::string> string(const char* key) const;
    // An integer in [min, max]; a float with an integral value (20.0, as JavaScript sends) counts.
    std::optional<int64_t> integer(const char* key, int64_t min, int64_t max) const;
    std::optional<int> int32(const char* key) const;
    std::optional<double> number(const char* key) const;  // any finite JSON number
    std::optional<bool> boolean(const char* key) const;
    std::optional<bool> flag(const char* key) const;  // a boolean, or a number (clients send 0 / 1 for webui's bools)
    const Json* object(const char* key) const;  // nullptr when absent or null
    const Json* array(const char* key) const;

    std::string name(const char* key) const { return where_ + key; }

private:
    const Json* value(const char* key) const;
    [[noreturn]] void wrong_type(const char* key, const char* expected) const;

    const Json& obj_;
    std::string where_;
};

}  // namespace difu::server
