// io/unpickler.h — a restricted pickle reader for torch.save checkpoints that never executes code.
//
// A pickle is a program for a small stack machine; Python's unpickler runs it and, on GLOBAL + REDUCE,
// imports and calls whatever the file names (a downloaded .ckpt can run `os.system`). This one only
// *describes*: it knows the opcodes torch.save emits and an allow-list of globals (unpickler.cpp, each
// with why), and "calls" to those are interpreted here into plain values (a tensor description, a dict,
// an inert placeholder) — nothing is imported or called. Any other global is refused with an Error
// naming it. Stack depth, MARK nesting, memo size, string lengths and object count are bounded, so a
// hostile file costs at most a bounded multiple of its size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace difu::pickle {

using ObjId = uint32_t;  // index into Pickle::objects; containers hold ids, so shared and cyclic refs are safe
inline constexpr ObjId kNoObject = UINT32_MAX;

// What an allowed global stands for; decides what "calling" it builds.
enum class GlobalRole {
    OrderedDict,      // -> Dict
    Set,              // -> List
    TorchSize,        // -> Tuple
    RebuildTensor,    // torch._utils._rebuild_tensor(_v2) -> TensorRef
    RebuildParameter, // torch._utils._rebuild_parameter(_with_state) -> its tensor argument
    RebuildFromType,  // torch._tensor._rebuild_from_type_v2(func, type, args, state) -> func(*args)
    StorageType,      // torch.FloatStorage, ...: names a dtype inside a persistent id; not callable
    CodecsEncode,     // _codecs.encode(str, 'latin1') -> Bytes (how protocol 2 writes bytes)
    Placeholder,      // data-only classes (numpy scalars, Lightning callbacks): calling gives an Opaque
    Inert,            // a value only referred to (torch.float32, numpy.ndarray): not callable
};

struct None {};
struct Str { std::string value; };    // Python str (UTF-8), or a protocol-1 byte string
struct Bytes { std::string value; };
struct Tuple { std::vector<ObjId> items; };
struct List { std::vector<ObjId> items; };
struct Dict { std::vector<std::pair<ObjId, ObjId>> items; };  // as written; a later duplicate key wins
struct Global {
    std::string module, name;
    GlobalRole role;
    DType storage_dtype = DType::U8;  // for StorageType
};
// A persistent id ('storage', <XStorage>, key, location, numel): which serialized storage a tensor uses.
struct StorageRef {
    DType dtype;
    std::string key;       // zip: "<archive>/data/<key>"; legacy: the key in the storage list
    std::string location;  // "cpu", "cuda:0": ignored, everything loads to the CPU
    int64_t numel;         // in elements of dtype
};
// _rebuild_tensor_v2(storage, storage_offset, size, stride, ...): offsets and strides in elements.
struct TensorRef {
    ObjId storage;
    int64_t storage_offset;
    Shape size;
    Shape stride;
};
// An instance of a Placeholder class: never constructed, only named; BUILD state is kept, not applied.
struct Opaque {
    std::string type;  // "numpy.core.multiarray.scalar"
    ObjId state = kNoObject;
};

using Object = std::variant<None, bool, int64_t, double, Str, Bytes, Tuple, List, Dict, Global, StorageRef,
                            TensorRef, Opaque>;

struct Pickle {
    std::vector<Object> objects;
    ObjId root = kNoObject;
    size_t end = 0;  // bytes read, STOP included: legacy torch files hold several pickles back to back

    const Object& at(ObjId id) const { return objects.at(id); }
    template <typename T> const T* get(ObjId id) const { return std::get_if<T>(&objects.at(id)); }
    std::string kind(ObjId id) const;  // "dict", "tensor", "global 'numpy.dtype'": for error messages
};

// Bounds against hostile input; the defaults are far above what any real checkpoint needs.
struct Limits {
    size_t max_stack = size_t{1} << 20;          // values on the stack (torch batches SETITEMS by 1000)
    size_t max_mark_depth = 1000;                // nested MARKs (a state dict nests about 3)
    size_t max_memo = size_t{1} << 22;           // memo entries (about 6 per tensor)
    size_t max_objects = size_t{1} << 22;        // values built in all
    size_t max_string_bytes = size_t{256} << 20; // one str / bytes
    size_t max_derived_bytes = size_t{64} << 20; // bytes copied by _codecs.encode beyond the input itself
    size_t max_dims = 64;                        // torch's own limit on tensor rank
};

// Runs the pickle at the start of `bytes` up to its STOP. `where` (the file's path) starts every error.
Pickle unpickle(std::span<const std::byte> bytes, const std::string& where, const Limits& limits = {});

}  // namespace difu::pickle
