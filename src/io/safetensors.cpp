// io/safetensors.cpp — the safetensors format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data; offsets are relative to the end of the header. The file is hostile input: every
// field is type-checked and every offset checked against the file before a tensor view is made.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

#include "io/checkpoint.h"

namespace difu {
namespace {

// The reference implementation (huggingface/safetensors) refuses headers over 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr size_t kMaxDims = 8;

struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
};

DType parse_dtype(const std::string& path, const std::string& name, const nlohmann::json& j) {
    if (!j.is_string()) throw Error::at(path, "tensor '{}': \"dtype\" is not a string", name);
    const std::string s = j.get<std::string>();
    if (auto t = dtype_from_name(s)) return *t;
    if (s.rfind("F8", 0) == 0)
        throw Error::at(path, "tensor '{}' has dtype {} (fp8), which difu cannot read yet; convert the checkpoint "
                              "to F16 or BF16", name, s);
    throw Error::at(path, "tensor '{}' has unknown dtype '{}'", name, s);
}

Shape parse_shape(const std::string& path, const std::string& name, const nlohmann::json& j, uint64_t* numel) {
    if (!j.is_array()) throw Error::at(path, "tensor '{}': \"shape\" is not an array", name);
    if (j.size() > kMaxDims) throw Error::at(path, "tensor '{}' has {} dimensions (at most {})", name, j.size(), kMaxDims);
    Shape shape;
    uint64_t n = 1;
    for (const auto& d : j) {
        if (!d.is_number_unsigned())
            throw Error::at(path, "tensor '{}': shape entry {} is not a non-negative integer", name, d.dump());
        const uint64_t v = d.get<uint64_t>();
        if (v != 0 && n > std::numeric_limits<uint64_t>::max() / v)
            throw Error::at(path, "tensor '{}': shape {} overflows", name, j.dump());
        n *= v;
        shape.push_back(static_cast<int64_t>(v));
    }
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error::at(path, "tensor '{}': shape {} is too large", name, j.dump());
    *numel = n;
    return shape;
}

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j, uint64_t data_bytes) {
    if (!j.is_object()) throw Error::at(path, "tensor '{}': header entry is not an object", name);
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!j.contains(field)) throw Error::at(path, "tensor '{}': header entry has no \"{}\"", name, field);
    Entry e;
    e.name = name;
    e.dtype = parse_dtype(path, name, j["dtype"]);
    uint64_t numel = 0;
    e.shape = parse_shape(path, name, j["shape"], &numel);
    const auto& off = j["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        throw Error::at(path, "tensor '{}': \"data_offsets\" must be two non-negative integers", name);
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) throw Error::at(path, "tensor '{}': data_offsets [{}, {}] run backwards", name, e.begin, e.end);
    if (e.end > data_bytes)
        throw Error::at(path, "tensor '{}' ends at byte {} of the data but the file has {} data bytes (truncated download?)",
                        name, e.end, data_bytes);
    const uint64_t es = dtype_size(e.dtype);
    if (numel > std::numeric_limits<uint64_t>::max() / es || numel * es != e.end - e.begin)
        throw Error::at(path, "tensor '{}': {} {} needs {} bytes but data_offsets give {}", name, dtype_name(e.dtype),
                        shape_str(e.shape), numel * es, e.end - e.begin);
    return e;
}

void check_no_overlap(const std::string& path, std::vector<Entry>& entries) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < entries.size(); ++i)
        if (entries[i].begin < entries[i - 1].end)
            throw Error::at(path, "tensors '{}' and '{}' overlap in the file", entries[i - 1].name, entries[i].name);
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const nlohmann::json& j) {
    if (!j.is_object()) throw Error::at(path, "\"__metadata__\" is not an object");
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : j.items()) {
        if (!v.is_string()) throw Error::at(path, "\"__metadata__\" value of '{}' is not a string", k);
        m[k] = v.get<std::string>();
    }
    return m;
}

}  // namespace

Checkpoint read_safetensors(std::shared_ptr<MappedFile> file) {
    const std::string& path = file->path();
    const size_t size = file->size();
    if (size < 8) throw Error::at(path, "file is {} bytes, too short for a safetensors header", size);
    uint64_t header_len = 0;
    std::memcpy(&header_len, file->data(), 8);  // little-endian on every machine difu runs on (x86-64)
    if (header_len > kMaxHeaderBytes)
        throw Error::at(path, "safetensors header claims {} bytes (limit {}): not a safetensors file?", header_len,
                        kMaxHeaderBytes);
    if (header_len > size - 8)
        throw Error::at(path, "safetensors header claims {} bytes but the file has only {} (truncated download?)",
                        header_len, size - 8);
    const char* hp = reinterpret_cast<const char*>(file->data() + 8);
    nlohmann::json header = nlohmann::json::parse(hp, hp + header_len, nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) throw Error::at(path, "safetensors header is not valid JSON");
    if (!header.is_object()) throw Error::at(path, "safetensors header is not a JSON object");

    const uint64_t data_start = 8 + header_len;
    const uint64_t data_bytes = size - data_start;
    Checkpoint ck;
    ck.path = path;
    ck.format = CheckpointFormat::Safetensors;
    ck.file = file;
    std::vector<Entry> entries;
    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__") {
            ck.metadata = parse_metadata(path, value);
            continue;
        }
        entries.push_back(parse_entry(path, name, value, data_bytes));
    }
    check_no_overlap(path, entries);

    // One Storage for the whole data region, borrowed from the mapping: tensors are views into it.
    auto region = Storage::borrow(file, const_cast<std::byte*>(file->data()) + data_start, data_bytes, false);
    for (auto& e : entries)
        ck.tensors.emplace(e.name, Tensor::view_of(region, e.begin, e.dtype, std::move(e.shape)));
    return ck;
}

}  // namespace difu
