// io/ckpt.cpp — read_ckpt: checkpoints written by torch.save, without Python and without running the pickle.
//
// Zip format (torch >= 1.6): "<archive>/data.pkl" is a pickle of the saved object, in which each tensor is
// _rebuild_tensor_v2(persistent id ('storage', <XStorage>, key, location, numel), offset, size, stride, ...)
// and storage `key` is the stored entry "<archive>/data/<key>". Legacy format: five pickles back to back
// (magic number, protocol version, sys_info, the object, the sorted storage keys), then each storage as an
// 8-byte little-endian element count and its raw bytes.
// Either way the object is a dict of tensors, or a Lightning dict whose "state_dict" entry is; tensors
// become views into the mapped file (copies only when strided or misaligned).
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/unpickler.h"
#include "io/zip_reader.h"

namespace difu {
namespace {

using pickle::ObjId;
using pickle::Pickle;
using pickle::StorageRef;
using pickle::TensorRef;

constexpr std::string_view kDataPkl = "/data.pkl";
constexpr std::string_view kStateDictKey = "state_dict";  // Lightning: {"state_dict": {...}, "global_step": ...}
constexpr size_t kMaxNesting = 64;                         // dicts within dicts walked for tensors
constexpr size_t kVisitsPerObject = 4;                     // dict entries walked per value; a tree needs one
constexpr size_t kMaxNameBytes = 4096;                     // a dotted tensor name (real ones: under 100)
// pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2): torch's MAGIC_NUMBER, the first legacy pickle. It
// does not fit an int64, so it is matched as bytes rather than unpickled.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
constexpr int64_t kLegacyProtocolVersion = 1001;
constexpr size_t kLegacyCountBytes = 8;

using StorageSource = std::function<std::shared_ptr<Storage>(const StorageRef&)>;

// ---- finding the tensors in the unpickled object ----------------------------------------------

const std::string* str_key(const Pickle& p, ObjId id) {
    const pickle::Str* s = p.get<pickle::Str>(id);
    return s ? &s->value : nullptr;
}

ObjId dict_value(const Pickle& p, ObjId dict, std::string_view key) {
    if (const pickle::Dict* d = p.get<pickle::Dict>(dict))
        for (auto it = d->items.rbegin(); it != d->items.rend(); ++it)  // the last duplicate wins, as in Python
            if (const std::string* k = str_key(p, it->first); k && *k == key) return it->second;
    return pickle::kNoObject;
}

// Collects (dotted name, tensor) from nested dicts; other values (numbers, numpy scalars, optimizer
// lists, callbacks) are skipped. Walk depth and total visits are bounded: a hostile pickle can share
// one dict many times over, or put a dict inside itself.
class TensorFinder {
public:
    TensorFinder(const Pickle& p, const std::string& path)
        : p_(p), path_(path), budget_(kVisitsPerObject * p.objects.size()) {}
    std::map<std::string, ObjId> found;

    void walk(ObjId dict, const std::string& prefix, size_t depth) {
        if (depth > kMaxNesting) throw Error::at(path_, "dicts nest deeper than {} (hostile file?)", kMaxNesting);
        for (const auto& [k, v] : p_.get<pickle::Dict>(dict)->items) {
            if (budget_-- == 0) throw Error::at(path_, "dicts are shared too often to walk (hostile file?)");
            const bool tensor = p_.get<TensorRef>(v) != nullptr;
            const ObjId inner = tensor ? pickle::kNoObject : walkable_dict(v);
            if (!tensor && inner == pickle::kNoObject) continue;  // numbers, lists, placeholders: not weights
            const std::optional<std::string> name = name_of(k, prefix, tensor);
            if (!name) continue;
            if (tensor) found.insert_or_assign(*name, v);
            else walk(inner, *name + ".", depth + 1);
        }
    }

private:
    // A dict, or a ParameterDict (textual-inversion embeddings), which keeps its tensors in its state's
    // "_parameters".
    ObjId walkable_dict(ObjId v) const {
        if (p_.get<pickle::Dict>(v)) return v;
        const pickle::Opaque* o = p_.get<pickle::Opaque>(v);
        if (!o || o->type != "torch.nn.modules.container.ParameterDict" || o->state == pickle::kNoObject)
            return pickle::kNoObject;
        const ObjId params = dict_value(p_, o->state, "_parameters");
        return params != pickle::kNoObject && p_.get<pickle::Dict>(params) ? params : pickle::kNoObject;
    }
    // prefix + key for str and int keys. Names are built only for tensors and the dicts holding them,
    // and bounded: a hostile key repeated down a chain of dicts must not grow into gigabytes.
    std::optional<std::string> name_of(ObjId k, const std::string& prefix, bool tensor) const {
        std::string number;
        std::string_view key;
        if (const std::string* s = str_key(p_, k)) key = *s;
        else if (const int64_t* i = p_.get<int64_t>(k)) key = number = std::to_string(*i);
        else return std::nullopt;
        const size_t size = prefix.size() + key.size();
        if (size <= kMaxNameBytes) return prefix + std::string(key);
        if (tensor) throw Error::at(path_, "a tensor name of {} bytes is too long (hostile file?)", size);
        return std::nullopt;
    }
    const Pickle& p_;
    const std::string& path_;
    size_t budget_;
};

// The dict of tensors: the object itself, or its "state_dict" entry when it has one (Lightning).
ObjId tensor_dict(const Pickle& p, const std::string& path) {
    if (!p.get<pickle::Dict>(p.root))
        throw Error::at(path, "the checkpoint's pickle holds a {}, not a dict of tensors", p.kind(p.root));
    const ObjId sd = dict_value(p, p.root, kStateDictKey);
    return sd != pickle::kNoObject && p.get<pickle::Dict>(sd) ? sd : p.root;
}

// ---- tensors over storages --------------------------------------------------------------------

// Dense row-major: strides of size-1 dims are arbitrary in torch and do not matter.
bool is_dense(const Shape& size, const Shape& stride) {
    int64_t expected = 1;
    for (size_t i = size.size(); i-- > 0;) {
        if (size[i] != 1 && stride[i] != expected) return false;
        expected *= size[i];
    }
    return true;
}

// Gathers a strided tensor into a new contiguous one (torch.save keeps a transposed tensor's strides).
Tensor strided_copy(const std::byte* base, DType dtype, const Shape& size, const Shape& stride) {
    Tensor out = Tensor::empty(size, dtype);
    const size_t es = dtype_size(dtype);
    std::byte* dst = out.storage()->data();
    std::vector<int64_t> idx(size.size(), 0);
    for (int64_t i = 0, n = out.numel(); i < n; ++i) {
        int64_t off = 0;
        for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * stride[k];
        std::memcpy(dst + static_cast<size_t>(i) * es, base + static_cast<size_t>(off) * es, es);
        for (size_t k = idx.size(); k-- > 0;) {
            if (++idx[k] < size[k]) break;
            idx[k] = 0;
        }
    }
    return out;
}

// The last element index the tensor touches, and its element count; false on int64 overflow.
bool extent(const TensorRef& t, uint64_t& last, uint64_t& numel) {
    last = static_cast<uint64_t>(t.storage_offset);
    numel = 1;
    for (int64_t n : t.size)
        if (n == 0) {  // an empty tensor touches nothing
            numel = 0;
            return true;
        }
    for (size_t i = 0; i < t.size.size(); ++i) {
        const auto n = static_cast<uint64_t>(t.size[i]), s = static_cast<uint64_t>(t.stride[i]);
        uint64_t span = 0;
        if (__builtin_mul_overflow(n - 1, s, &span) || __builtin_add_overflow(last, span, &last) ||
            __builtin_mul_overflow(numel, n, &numel))
            return false;
    }
    return last <= static_cast<uint64_t>(INT64_MAX) && numel <= static_cast<uint64_t>(INT64_MAX);
}

Tensor make_tensor(const std::string& path, const std::string& name, const TensorRef& t, const StorageRef& s,
                   std::shared_ptr<Storage> storage, size_t file_size) {
    const size_t es = dtype_size(s.dtype);
    if (static_cast<uint64_t>(s.numel) > storage->size() / es)
        throw Error::at(path, "storage '{}' of tensor '{}' claims {} {} elements but holds {} bytes", s.key, name,
                        s.numel, dtype_name(s.dtype), storage->size());
    uint64_t last = 0, numel = 0;
    if (!extent(t, last, numel))
        throw Error::at(path, "tensor '{}': size {} with stride {} overflows", name, shape_str(t.size),
                        shape_str(t.stride));
    if (numel == 0) return Tensor::empty(t.size, s.dtype);
    if (last >= static_cast<uint64_t>(s.numel))
        throw Error::at(path, "tensor '{}' ({} at offset {}, stride {}) reaches element {} of storage '{}', which has "
                        "{} (corrupt file?)", name, shape_str(t.size), t.storage_offset, shape_str(t.stride), last,
                        s.key, s.numel);
    const std::byte* base = storage->data() + static_cast<size_t>(t.storage_offset) * es;
    if (!is_dense(t.size, t.stride)) {
        // Stride 0 (expanded) tensors copy to more than they store; a copy larger than the whole file
        // is refused, so the memory a file can make difu use stays bounded by its size.
        if (numel > file_size / es)
            throw Error::at(path, "tensor '{}' would expand to {} elements from a {}-byte file", name, numel, file_size);
        return strided_copy(base, s.dtype, t.size, t.stride);
    }
    Tensor view = Tensor::view_of(std::move(storage), static_cast<size_t>(t.storage_offset) * es, s.dtype, t.size);
    // Typed access needs aligned elements; torch aligns zip entries to 64 bytes, legacy files do not.
    return reinterpret_cast<uintptr_t>(base) % es == 0 ? view : view.clone();
}

std::map<std::string, Tensor> read_tensors(const Pickle& p, const std::string& path, const StorageSource& source,
                                           size_t file_size) {
    TensorFinder finder(p, path);
    finder.walk(tensor_dict(p, path), "", 0);
    std::map<std::string, Tensor> tensors;
    for (const auto& [name, id] : finder.found) {
        const TensorRef& t = *p.get<TensorRef>(id);
        const StorageRef& s = *p.get<StorageRef>(t.storage);
        tensors.emplace(name, make_tensor(path, name, t, s, source(s), file_size));
    }
    return tensors;
}

// ---- the zip format ----------------------------------------------------------------------------

// "<archive>/data.pkl" — exactly one, at the top level of the archive.
const ZipEntry& find_data_pkl(const ZipArchive& zip, const std::string& path) {
    const ZipEntry* found = nullptr;
    for (const ZipEntry& e : zip.entries()) {
        const std::string_view n = e.name;
        if (n.size() <= kDataPkl.size() || !n.ends_with(kDataPkl)) continue;
        if (n.substr(0, n.size() - kDataPkl.size()).find('/') != std::string_view::npos) continue;
        if (found) throw Error::at(path, "zip holds both '{}' and '{}': which checkpoint is meant?", found->name, e.name);
        found = &e;
    }
    if (!found) throw Error::at(path, "zip has no '<archive>/data.pkl': not a torch.save checkpoint");
    return *found;
}

// torch >= 2.1 records the writer's byte order; tensors are used as they lie, so only little-endian works.
void check_byte_order(const ZipArchive& zip, const std::string& archive, const std::string& path) {
    const ZipEntry* e = zip.find(archive + "/byteorder");
    if (!e) return;  // older torch: always little-endian in practice
    const std::span<const std::byte> b = zip.data(*e);
    const std::string_view order(reinterpret_cast<const char*>(b.data()), b.size());
    if (order != "little")
        throw Error::at(path, "tensors were saved with byte order '{}'; only little-endian is supported",
                        order.substr(0, 16));
}

Checkpoint read_torch_zip(std::shared_ptr<MappedFile> file) {
    const std::string& path = file->path();
    const ZipArchive zip = ZipArchive::read(*file);
    const ZipEntry& pkl = find_data_pkl(zip, path);
    const std::string archive = pkl.name.substr(0, pkl.name.size() - kDataPkl.size());
    check_byte_order(zip, archive, path);
    const std::string prefix = archive + "/data/";
    const Pickle p = pickle::unpickle(zip.data(pkl), path);
    std::map<std::string, std::shared_ptr<Storage>> storages;
    auto source = [&](const StorageRef& s) {
        auto& st = storages[s.key];
        if (!st) {
            const ZipEntry* e = zip.find(prefix + s.key);
            if (!e) throw Error::at(path, "a tensor's storage '{}{}' is missing from the zip", prefix, s.key);
            const std::span<const std::byte> bytes = zip.data(*e);
            st = Storage::borrow(file, const_cast<std::byte*>(bytes.data()), bytes.size(), /*writable=*/false);
        }
        return st;
    };
    return Checkpoint{path, CheckpointFormat::TorchZip, read_tensors(p, path, source, file->size()), {}, file};
}

// ---- the legacy format -------------------------------------------------------------------------

Pickle next_pickle(const MappedFile& f, size_t& pos) {
    Pickle p = pickle::unpickle(std::span(f.data() + pos, f.size() - pos), f.path());
    pos += p.end;
    return p;
}

void check_legacy_header(const MappedFile& f, size_t& pos) {
    const std::string& path = f.path();
    if (f.size() < sizeof kLegacyMagic || std::memcmp(f.data(), kLegacyMagic, sizeof kLegacyMagic) != 0)
        throw Error::at(path, "a pickle, but not a torch checkpoint (no torch magic number)");
    pos = sizeof kLegacyMagic;
    const Pickle version = next_pickle(f, pos);
    const int64_t* v = version.get<int64_t>(version.root);
    if (!v || *v != kLegacyProtocolVersion)
        throw Error::at(path, "legacy torch file of unknown protocol version (expected {})", kLegacyProtocolVersion);
    const Pickle sys_info = next_pickle(f, pos);
    const ObjId little = dict_value(sys_info, sys_info.root, "little_endian");
    if (little != pickle::kNoObject && !(sys_info.get<bool>(little) && *sys_info.get<bool>(little)))
        throw Error::at(path, "legacy torch file written on a big-endian machine is not supported");
}

// After the object pickle: the sorted storage keys, then each storage as <u64 count><count elements>.
std::map<std::string, std::shared_ptr<Storage>> legacy_storages(std::shared_ptr<MappedFile> file, size_t pos,
                                                                 const Pickle& object) {
    const std::string& path = file->path();
    std::map<std::string, DType> dtypes;
    for (const pickle::Object& o : object.objects)
        if (const auto* s = std::get_if<StorageRef>(&o)) dtypes.emplace(s->key, s->dtype);
    const Pickle keys = next_pickle(*file, pos);
    const pickle::List* list = keys.get<pickle::List>(keys.root);
    if (!list) throw Error::at(path, "legacy torch file: the storage key list is a {}", keys.kind(keys.root));
    std::map<std::string, std::shared_ptr<Storage>> storages;
    for (ObjId k : list->items) {
        const std::string* key = str_key(keys, k);
        if (!key) throw Error::at(path, "legacy torch file: a storage key is a {}", keys.kind(k));
        auto dt = dtypes.find(*key);
        if (dt == dtypes.end()) throw Error::at(path, "legacy torch file: storage '{}' is used by no tensor", *key);
        const size_t es = dtype_size(dt->second);
        if (file->size() - pos < kLegacyCountBytes)
            throw Error::at(path, "storage '{}' starts past the end of the file (truncated download?)", *key);
        uint64_t count = 0;
        for (size_t i = kLegacyCountBytes; i-- > 0;) count = (count << 8) | static_cast<uint8_t>(file->data()[pos + i]);
        pos += kLegacyCountBytes;
        if (count > (file->size() - pos) / es)
            throw Error::at(path, "storage '{}' of {} elements runs past the end of the file (truncated download?)",
                            *key, count);
        const size_t bytes = static_cast<size_t>(count) * es;
        storages[*key] = Storage::borrow(file, const_cast<std::byte*>(file->data() + pos), bytes, false);
        pos += bytes;
    }
    return storages;
}

Checkpoint read_torch_legacy(std::shared_ptr<MappedFile> file) {
    const std::string& path = file->path();
    size_t pos = 0;
    check_legacy_header(*file, pos);
    const Pickle object = next_pickle(*file, pos);
    const auto storages = legacy_storages(file, pos, object);
    auto source = [&](const StorageRef& s) {
        auto it = storages.find(s.key);
        if (it == storages.end()) throw Error::at(path, "a tensor's storage '{}' is not in the file", s.key);
        return it->second;
    };
    return Checkpoint{path, CheckpointFormat::TorchLegacy, read_tensors(object, path, source, file->size()), {}, file};
}

}  // namespace

Checkpoint read_ckpt(std::shared_ptr<MappedFile> file) {
    const bool zip = file->size() >= 4 && std::memcmp(file->data(), "PK\x03\x04", 4) == 0;
    return zip ? read_torch_zip(std::move(file)) : read_torch_legacy(std::move(file));
}

}  // namespace difu
