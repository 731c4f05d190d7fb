#include "io/checkpoint.h"

#include "io/diffusers_folder.h"

#include <cstring>

#include "core/error.h"

namespace difu {

std::string_view format_name(CheckpointFormat f) {
    switch (f) {
        case CheckpointFormat::Safetensors: return "safetensors";
        case CheckpointFormat::TorchZip: return "torch zip (torch.save)";
        case CheckpointFormat::TorchLegacy: return "torch legacy pickle";
    }
    return "?";
}

const Tensor& Checkpoint::get(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw Error::at(path, "tensor '{}' is missing", name);
    return it->second;
}

const Tensor& Checkpoint::get(const std::string& name, const Shape& expected) const {
    const Tensor& t = get(name);
    if (t.shape() != expected)
        throw Error::at(path, "tensor '{}' has shape {} but {} was expected", name, shape_str(t.shape()),
                        shape_str(expected));
    return t;
}

size_t Checkpoint::total_bytes() const {
    size_t n = 0;
    for (const auto& [name, t] : tensors) n += t.nbytes();
    return n;
}

Checkpoint load_checkpoint(const std::string& path) {
    if (is_diffusers_folder(path)) return load_diffusers_folder(path);
    return load_checkpoint(MappedFile::open(path));
}

Checkpoint load_checkpoint(std::shared_ptr<MappedFile> file) {
    const std::string& path = file->path();
    const std::byte* p = file->data();
    const size_t n = file->size();
    // torch.save zip archives start with a local file header "PK\3\4"; legacy torch files with the
    // pickle protocol-2 opcode 0x80 0x02 (the magic number); safetensors with an 8-byte header length
    // followed by '{'. Safetensors first: a header length whose low byte is 0x80 starts like a pickle
    // (a legacy torch file's 9th byte is inside its magic number, never '{').
    if (n >= 4 && std::memcmp(p, "PK\x03\x04", 4) == 0) return read_ckpt(file);
    if (n >= 9 && p[8] == std::byte{'{'}) return read_safetensors(file);
    if (n >= 2 && p[0] == std::byte{0x80}) return read_ckpt(file);
    if (n < 9) throw Error::at(path, "file is only {} bytes: not a checkpoint", n);
    throw Error::at(path, "not a checkpoint: neither safetensors, nor a torch.save zip, nor a torch pickle");
}

}  // namespace difu
