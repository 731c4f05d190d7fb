// io/png_info.cpp — webui infotext: processing.create_infotext (format) and
// infotext_utils.parse_generation_parameters with its re_param regex (parse), both ported by hand;
// the regex as a scanner that never backtracks, so a hostile megabyte of text parses in linear time.
#include "io/png_info.h"
#include "core/utf8.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "io/sha256.h"

namespace difu {
namespace {

constexpr size_t kModelHashDigits = 10;  // webui's shorthash
constexpr int kMinParamsOnLastLine = 3;  // fewer "Key: value" pairs and the last line is prompt text

bool is_space(char c) {  // Python's str whitespace, ASCII part (with the \x1c-\x1f separators)
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// Python's \w over UTF-8 bytes: ASCII letters, digits, '_', and (approximately) every non-ASCII character.
bool is_word(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || c == '_' || u >= 0x80;
}

std::string strip(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

// Python's str() of a number as webui's UI passes it: integral values print without ".0" (gradio
// hands webui 7, not 7.0), others as the shortest round-trip repr ("7.5", "0.75").
std::string number(double v) { return fmt::format("{}", v); }

// ---- re_param = r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)' ----------------------------

struct Param {
    std::string key, value;
};

// The quoted alternative "(?:\\.|[^\\"])+" followed by , or end; returns its end, or npos.
size_t match_quoted(std::string_view s, size_t v) {
    if (v >= s.size() || s[v] != '"') return std::string_view::npos;
    size_t q = v + 1;
    while (q < s.size() && s[q] != '"') {
        if (s[q] == '\\') {
            if (q + 1 >= s.size() || s[q + 1] == '\n') break;  // '.' does not match a newline
            q += 2;
        } else {
            ++q;
        }
    }
    const bool closed = q < s.size() && s[q] == '"' && q > v + 1;  // at least one character inside
    if (!closed || (q + 1 < s.size() && s[q + 1] != ',')) return std::string_view::npos;
    return q + 1;
}

// One match of re_param starting at `i`. On failure, *next is where the next attempt can start:
// every start inside the same key-character run fails the same way.
bool match_param(std::string_view s, size_t i, Param* p, size_t* next) {
    size_t j = i;
    while (j < s.size() && is_space(s[j])) ++j;
    size_t k = j;
    if (k < s.size() && is_word(s[k]))
        for (++k; k < s.size() && (is_word(s[k]) || s[k] == ' ' || s[k] == '-' || s[k] == '/');) ++k;
    if (k - j < 2 || k >= s.size() || s[k] != ':') {
        *next = std::max(i + 1, k);
        return false;
    }
    size_t v = k + 1;
    while (v < s.size() && is_space(s[v])) ++v;
    size_t end = match_quoted(s, v);
    if (end == std::string_view::npos) {
        end = v;
        while (end < s.size() && s[end] != ',') ++end;  // [^,]*: always matches
    }
    p->key = std::string(s.substr(j, k - j));
    p->value = std::string(s.substr(v, end - v));
    *next = end < s.size() ? end + 1 : end;  // consume the ','
    return true;
}

std::vector<Param> find_params(std::string_view s) {
    std::vector<Param> out;
    Param p;
    for (size_t i = 0, next = 0; i < s.size(); i = next)
        if (match_param(s, i, &p, &next)) out.push_back(p);
    return out;
}

// ---- typed values ---------------------------------------------------------------------------------

template <typename T>
T parse_number(const std::string& key, const std::string& raw) {
    const std::string v = strip(raw);
    T out{};
    const char* b = v.data() + (!v.empty() && v[0] == '+');  // Python's int() / float() accept a '+'
    auto [end, ec] = std::from_chars(b, v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || v.empty())
        throw Error::make("infotext: {} is '{}', not a number", key, printable(raw));
    if constexpr (std::is_floating_point_v<T>)
        if (!std::isfinite(out)) throw Error::make("infotext: {} is '{}', not a finite number", key, printable(raw));
    return out;
}

// "512x512" (re_imagesize = r"^(\d+)x(\d+)$")
void parse_size(const std::string& v, int* w, int* h) {
    const size_t x = v.find('x');
    auto digits = [](std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == s.npos; };
    if (x == std::string::npos || !digits(std::string_view(v).substr(0, x)) || !digits(std::string_view(v).substr(x + 1)))
        throw Error::make("infotext: Size is '{}', not WIDTHxHEIGHT", printable(v));
    *w = parse_number<int>("Size", v.substr(0, x));
    *h = parse_number<int>("Size", v.substr(x + 1));
}

void set_extra(GenerationInfo* info, const std::string& key, const std::string& value) {
    for (auto& [k, v] : info->extra)
        if (k == key) {  // a repeated key keeps its first place and its last value, as in a Python dict
            v = value;
            return;
        }
    info->extra.emplace_back(key, value);
}

void assign(GenerationInfo* info, const std::string& k, const std::string& v) {
    if (k == "Steps") info->steps = parse_number<int>(k, v);
    else if (k == "Sampler") info->sampler = v;
    else if (k == "Schedule type") info->schedule_type = v;
    else if (k == "CFG scale") info->cfg_scale = parse_number<double>(k, v);
    else if (k == "Seed") info->seed = parse_number<int64_t>(k, v);
    else if (k == "Size") parse_size(v, &info->width, &info->height);
    else if (k == "Model hash") info->model_hash = v;
    else if (k == "Model") info->model_name = v;
    else if (k == "Denoising strength") info->denoising_strength = parse_number<double>(k, v);
    else if (k == "Clip skip") info->clip_skip = parse_number<int>(k, v);
    else if (k == "RNG") info->rng = v;
    else if (k == "Version") info->version = v;
    else set_extra(info, k, v);
}

void append_json_escaped(std::string& out, char c) {
    switch (c) {
        case '"': out += "\\\""; return;
        case '\\': out += "\\\\"; return;
        case '\n': out += "\\n"; return;
        case '\r': out += "\\r"; return;
        case '\t': out += "\\t"; return;
        case '\b': out += "\\b"; return;
        case '\f': out += "\\f"; return;
    }
    if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    else out += c;  // ensure_ascii=False: UTF-8 passes through
}

// json.loads of one JSON string literal (the whole of `s`, quotes included); false where Python raises.
bool json_string(std::string_view s, std::string* out) {
    const size_t close = s.size() - 1;  // index of the closing quote
    auto hex4 = [&](size_t at, uint32_t* v) {
        if (at + 4 > close) return false;
        auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + 4, *v, 16);
        return ec == std::errc() && p == s.data() + at + 4;
    };
    size_t i = 1;
    while (i < close) {
        const char c = s[i];
        if (c == '"' || static_cast<unsigned char>(c) < 0x20) return false;  // early end / raw control char
        if (c != '\\') {
            *out += c;
            ++i;
            continue;
        }
        if (i + 1 >= close) return false;  // the escape would swallow the closing quote
        const char e = s[i + 1];
        i += 2;
        switch (e) {
            case '"': case '\\': case '/': *out += e; break;
            case 'b': *out += '\b'; break;
            case 'f': *out += '\f'; break;
            case 'n': *out += '\n'; break;
            case 'r': *out += '\r'; break;
            case 't': *out += '\t'; break;
            case 'u': {
                uint32_t cp = 0, lo = 0;
                if (!hex4(i, &cp)) return false;
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < close && s[i] == '\\' && s[i + 1] == 'u' &&
                    hex4(i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
                append_utf8(*out, cp >= 0xD800 && cp <= 0xDFFF ? char32_t{0xFFFD} : char32_t{cp});  // lone surrogate
                break;
            }
            default: return false;
        }
    }
    return true;
}

}  // namespace

std::string quote_infotext_value(const std::string& value) {
    if (value.find_first_of(",\n:") == std::string::npos) return value;
    std::string out = "\"";
    for (char c : value) append_json_escaped(out, c);
    return out + "\"";
}

std::string unquote_infotext_value(const std::string& value) {
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') return value;
    std::string out;
    return json_string(value, &out) ? out : value;
}

std::string format_infotext(const GenerationInfo& info) {
    std::vector<std::pair<std::string, std::string>> params = {
        {"Steps", std::to_string(info.steps)}, {"Sampler", info.sampler}};
    auto add_if = [&](bool cond, const char* key, const std::string& v) {
        if (cond) params.emplace_back(key, v);
    };
    add_if(!info.schedule_type.empty(), "Schedule type", info.schedule_type);
    params.emplace_back("CFG scale", number(info.cfg_scale));
    params.emplace_back("Seed", std::to_string(info.seed));
    params.emplace_back("Size", fmt::format("{}x{}", info.width, info.height));
    add_if(!info.model_hash.empty(), "Model hash", info.model_hash);
    add_if(!info.model_name.empty(), "Model", info.model_name);
    add_if(info.denoising_strength.has_value(), "Denoising strength", number(info.denoising_strength.value_or(0)));
    add_if(info.clip_skip > 1, "Clip skip", std::to_string(info.clip_skip));
    add_if(!info.rng.empty() && info.rng != "GPU", "RNG", info.rng);
    for (const auto& kv : info.extra) params.push_back(kv);
    add_if(!info.version.empty(), "Version", info.version);

    std::string text;
    for (const auto& [k, v] : params) {
        if (!text.empty()) text += ", ";
        text += k == v ? k : k + ": " + quote_infotext_value(v);
    }
    const std::string negative = info.negative_prompt.empty() ? "" : "\nNegative prompt: " + info.negative_prompt;
    return strip(info.prompt + negative + "\n" + text);
}

GenerationInfo parse_infotext(const std::string& text) {
    std::vector<std::string> lines;
    const std::string x = strip(text);
    for (size_t b = 0;;) {
        const size_t e = x.find('\n', b);
        lines.push_back(x.substr(b, e == std::string::npos ? std::string::npos : e - b));
        if (e == std::string::npos) break;
        b = e + 1;
    }
    std::string last = lines.back();
    lines.pop_back();
    std::vector<Param> params = find_params(last);
    if (params.size() < kMinParamsOnLastLine) {
        lines.push_back(last);
        params.clear();
    }
    GenerationInfo info;
    bool done_with_prompt = false;
    for (const std::string& raw : lines) {
        std::string line = strip(raw);
        if (line.rfind("Negative prompt:", 0) == 0) {
            done_with_prompt = true;
            line = strip(line.substr(16));
        }
        std::string& target = done_with_prompt ? info.negative_prompt : info.prompt;
        target += (target.empty() ? "" : "\n") + line;
    }
    for (const Param& p : params) {
        if (p.value.empty()) continue;  // webui's v[0] raises IndexError there and the key is skipped
        const bool quoted = p.value.front() == '"' && p.value.back() == '"';
        assign(&info, p.key, quoted ? unquote_infotext_value(p.value) : p.value);
    }
    return info;
}

std::string model_hash(const std::string& checkpoint_path) {
    return sha256_file_hex(checkpoint_path).substr(0, kModelHashDigits);
}

}  // namespace difu
