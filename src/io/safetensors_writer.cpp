#include "io/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace difu {

void write_safetensors(const std::string& path, const std::vector<LazyTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const LazyTensor& t : tensors) {
        const uint64_t bytes = static_cast<uint64_t>(shape_numel(t.shape)) * dtype_size(t.dtype);
        header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw Error::at(path, "cannot create: {}", std::strerror(errno));
    const uint64_t n = h.size();
    bool ok = std::fwrite(&n, 8, 1, f.get()) == 1 && std::fwrite(h.data(), 1, h.size(), f.get()) == h.size();
    for (const LazyTensor& t : tensors) {
        if (!ok) break;
        const Tensor c = t.make().contiguous();
        if (c.shape() != t.shape || c.dtype() != t.dtype)
            throw Error::at(path, "tensor '{}' came out as {} {}, not the {} {} announced", t.name, dtype_name(c.dtype()),
                            shape_str(c.shape()), dtype_name(t.dtype), shape_str(t.shape));
        ok = c.nbytes() == 0 || std::fwrite(c.raw(), 1, c.nbytes(), f.get()) == c.nbytes();
    }
    if (!ok || std::fflush(f.get()) != 0) throw Error::at(path, "write failed: {}", std::strerror(errno));
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<LazyTensor> lazy;
    for (const auto& [name, t] : tensors) lazy.push_back({name, t.shape(), t.dtype(), [t = t] { return t; }});
    write_safetensors(path, lazy, metadata);
}

}  // namespace difu
