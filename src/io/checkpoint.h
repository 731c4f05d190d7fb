// io/checkpoint.h — a loaded checkpoint: named tensors (views into the mapped file where possible),
// whichever file format they came from. Weights are looked up by their checkpoint names.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/storage.h"
#include "core/tensor.h"

namespace difu {

enum class CheckpointFormat { Safetensors, TorchZip, TorchLegacy };
std::string_view format_name(CheckpointFormat f);

struct Checkpoint {
    std::string path;
    CheckpointFormat format = CheckpointFormat::Safetensors;
    std::map<std::string, Tensor> tensors;             // sorted by name
    std::map<std::string, std::string> metadata;       // safetensors "__metadata__" (strings)
    std::shared_ptr<MappedFile> file;                  // keeps zero-copy views valid

    bool has(const std::string& name) const { return tensors.count(name) != 0; }
    // The tensor `name`; throws Error naming the file and tensor when it is missing, or when
    // `expected` is given and the shape differs.
    const Tensor& get(const std::string& name) const;
    const Tensor& get(const std::string& name, const Shape& expected) const;
    size_t total_bytes() const;
};

// Opens `path` by its content (not its extension): safetensors, torch zip (.ckpt/.pt/.pth), or the
// legacy torch pickle format. Throws Error with the file name and the problem.
Checkpoint load_checkpoint(const std::string& path);

Checkpoint load_checkpoint(std::shared_ptr<MappedFile> file);

// The format-specific readers, over an opened file (or bytes in memory: MappedFile::from_bytes).
// Every offset, length and count read from the file is checked before use.
Checkpoint read_safetensors(std::shared_ptr<MappedFile> file);  // io/safetensors.cpp
Checkpoint read_ckpt(std::shared_ptr<MappedFile> file);         // io/ckpt.cpp: torch.save zip + legacy

}  // namespace difu
