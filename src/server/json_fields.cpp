#include "server/json_fields.h"

#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace difu::server {
namespace {

constexpr size_t kMaxShownChars = 40;  // of a wrong value, in an error message

struct TooDeep {};

Json parse_limited(const std::string& body, const std::string& what) {
    // The parser callback sees the depth of every value as it is read, so a hostile "[[[[..." stops
    // at kMaxJsonDepth instead of building a structure that later recursion would choke on.
    auto guard = [](int depth, Json::parse_event_t, Json&) {
        if (depth > kMaxJsonDepth) throw TooDeep{};
        return true;
    };
    try {
        return Json::parse(body, guard);
    } catch (const TooDeep&) {
        throw bad_request(fmt::format("{} nests deeper than {} levels", what, kMaxJsonDepth));
    } catch (const Json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400
        throw bad_request(fmt::format("{} is not valid JSON: {}", what, e.what()));
    }
}

}  // namespace

Json parse_json(const std::string& body, const std::string& what) { return parse_limited(body, what); }

Json parse_json_object(const std::string& body, const std::string& what) {
    Json j = parse_limited(body, what);
    if (!j.is_object()) throw bad_request(fmt::format("{} must be a JSON object, got {}", what, describe_json(j)));
    return j;
}

std::string describe_json(const Json& v) {
    std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (text.size() > kMaxShownChars) text = text.substr(0, kMaxShownChars) + "...";
    if (v.is_string()) return "string " + text;
    if (v.is_boolean()) return "boolean " + text;
    if (v.is_number()) return "number " + text;
    if (v.is_null()) return "null";
    return v.is_array() ? "an array" : "an object";
}

const Json* FieldReader::value(const char* key) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
}

bool FieldReader::has(const char* key) const { return value(key) != nullptr; }

void FieldReader::wrong_type(const char* key, const char* expected) const {
    throw bad_request(fmt::format("{}: expected {}, got {}", name(key), expected, describe_json(*value(key))));
}

std::optional<std::string> FieldReader::string(const char* key) const {
    const Json* v = value(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong_type(key, "a string");
    return v->get<std::string>();
}

std::optional<int64_t> FieldReader::integer(const char* key, int64_t min, int64_t max) const {
    const Json* v = value(key);
    if (!v) return std::nullopt;
    int64_t out = 0;
    if (v->is_number_unsigned()) {
        const uint64_t u = v->get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw bad_request(fmt::format("{}: {} is out of range [{}, {}]", name(key), u, min, max));
        out = static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
        out = v->get<int64_t>();
    } else if (v->is_number_float()) {
        const double d = v->get<double>();
        // 2^63 is exactly representable; anything at or past it does not fit int64.
        if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) >= 9.2233720368547758e18) wrong_type(key, "an integer");
        out = static_cast<int64_t>(d);
    } else {
        wrong_type(key, "an integer");
    }
    if (out < min || out > max) throw bad_request(fmt::format("{}: {} is out of range [{}, {}]", name(key), out, min, max));
    return out;
}

std::optional<int> FieldReader::int32(const char* key) const {
    auto v = integer(key, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    if (!v) return std::nullopt;
    return static_cast<int>(*v);
}

std::optional<double> FieldReader::number(const char* key) const {
    const Json* v = value(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) wrong_type(key, "a number");
    return v->get<double>();  // nlohmann never parses NaN or infinity, so this is finite
}

std::optional<bool> FieldReader::boolean(const char* key) const {
    const Json* v = value(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) wrong_type(key, "a boolean");
    return v->get<bool>();
}

std::optional<bool> FieldReader::flag(const char* key) const {
    const Json* v = value(key);
    if (!v) return std::nullopt;
    if (v->is_number()) return number(key).value() != 0;
    if (!v->is_boolean()) wrong_type(key, "a boolean (or 0 / 1)");
    return v->get<bool>();
}

const Json* FieldReader::object(const char* key) const {
    const Json* v = value(key);
    if (v && !v->is_object()) wrong_type(key, "an object");
    return v;
}

const Json* FieldReader::array(const char* key) const {
    const Json* v = value(key);
    if (v && !v->is_array()) wrong_type(key, "an array");
    return v;
}

}  // namespace difu::server
