// io/unpickler.cpp — see unpickler.h. Opcode semantics follow CPython's Lib/pickle.py (_Unpickler) and
// pickletools.py; which opcodes and globals appear is what torch.save (protocol 2 by default) writes, and
// what AUTOMATIC1111's webui (modules/safe.py) found real Stable Diffusion checkpoints to contain.
#include "io/unpickler.h"

#include <bit>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

namespace difu::pickle {
namespace {

// One allowed global: what it is to difu, and (in the comment) why a checkpoint contains it.
struct AllowedGlobal {
    std::string_view module, name;
    GlobalRole role;
    DType storage_dtype = DType::U8;
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    // model.state_dict() is an OrderedDict; torch pickles it as OrderedDict() + SETITEMS, plus a BUILD
    // of its `_metadata` attribute (module versions), which is dropped.
    {"collections", "OrderedDict", GlobalRole::OrderedDict},
    // Tensors: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]);
    // _rebuild_tensor is its pre-1.0 form; parameters wrap a tensor (requires_grad is irrelevant here).
    {"torch._utils", "_rebuild_tensor_v2", GlobalRole::RebuildTensor},
    {"torch._utils", "_rebuild_tensor", GlobalRole::RebuildTensor},
    {"torch._utils", "_rebuild_parameter", GlobalRole::RebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalRole::RebuildParameter},
    // Tensor subclasses, and tensors carrying Python attributes, go through _rebuild_from_type_v2(func,
    // type, args, state); the type is only named, the state dropped.
    {"torch._tensor", "_rebuild_from_type_v2", GlobalRole::RebuildFromType},
    {"torch", "Tensor", GlobalRole::Inert},
    {"torch.nn.parameter", "Parameter", GlobalRole::Inert},
    // The element type of a storage, named inside each tensor's persistent id.
    {"torch", "FloatStorage", GlobalRole::StorageType, DType::F32},
    {"torch", "HalfStorage", GlobalRole::StorageType, DType::F16},
    {"torch", "BFloat16Storage", GlobalRole::StorageType, DType::BF16},
    {"torch", "DoubleStorage", GlobalRole::StorageType, DType::F64},
    {"torch", "LongStorage", GlobalRole::StorageType, DType::I64},
    {"torch", "IntStorage", GlobalRole::StorageType, DType::I32},
    {"torch", "ShortStorage", GlobalRole::StorageType, DType::I16},
    {"torch", "CharStorage", GlobalRole::StorageType, DType::I8},
    {"torch", "ByteStorage", GlobalRole::StorageType, DType::U8},
    {"torch", "BoolStorage", GlobalRole::StorageType, DType::Bool},
    // A torch.Size saved as a value (training configs); tensors' own sizes are plain tuples.
    {"torch", "Size", GlobalRole::TorchSize},
    // torch.dtype values saved in configs pickle as references to these module attributes.
    {"torch", "float32", GlobalRole::Inert}, {"torch", "float16", GlobalRole::Inert},
    {"torch", "bfloat16", GlobalRole::Inert}, {"torch", "float64", GlobalRole::Inert},
    {"torch", "int64", GlobalRole::Inert},   {"torch", "int32", GlobalRole::Inert},
    {"torch", "int16", GlobalRole::Inert},   {"torch", "int8", GlobalRole::Inert},
    {"torch", "uint8", GlobalRole::Inert},   {"torch", "bool", GlobalRole::Inert},
    // Protocol 2 has no bytes opcode that Python 2 could read, so Python 3 writes a bytes value b as
    // _codecs.encode(b.decode('latin1'), 'latin1') — numpy scalars' raw data comes this way.
    {"_codecs", "encode", GlobalRole::CodecsEncode},
    // Lightning checkpoints: "global_step" / "epoch" as numpy scalars (scalar(dtype, raw bytes)),
    // numpy arrays in callback state (_reconstruct + BUILD), numpy.dtype objects. Never weights; each
    // becomes an Opaque placeholder. numpy 2 renamed numpy.core to numpy._core.
    {"numpy.core.multiarray", "scalar", GlobalRole::Placeholder},
    {"numpy.core.multiarray", "_reconstruct", GlobalRole::Placeholder},
    {"numpy._core.multiarray", "scalar", GlobalRole::Placeholder},
    {"numpy._core.multiarray", "_reconstruct", GlobalRole::Placeholder},
    {"numpy", "dtype", GlobalRole::Placeholder},
    {"numpy", "ndarray", GlobalRole::Inert},
    // Lightning's "callbacks" entry: keyed by (or holding an instance of) the ModelCheckpoint class.
    {"pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint", GlobalRole::Placeholder},
    {"pytorch_lightning.callbacks", "model_checkpoint", GlobalRole::Inert},
    // Textual-inversion embeddings keep "string_to_param" as a ParameterDict (an nn.Module); its
    // instance becomes an Opaque whose BUILD state (its __dict__) is kept for the reader to inspect.
    {"torch.nn.modules.container", "ParameterDict", GlobalRole::Placeholder},
    // Sets in training metadata; protocol 2 writes set(list) (Python 2 spelled builtins __builtin__).
    {"builtins", "set", GlobalRole::Set},
    {"__builtin__", "set", GlobalRole::Set},
};

// Opcodes (pickletools.py names). Only these are executed; any other byte is refused.
enum Op : uint8_t {
    MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BININT = 'J', BININT1 = 'K',
    BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U',
    BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e',
    BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', BINPUT = 'q', LONG_BINPUT = 'r',
    SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G', BINBYTES = 'B',
    SHORT_BINBYTES = 'C',
    PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88,
    NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
    BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
    STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};
constexpr int kHighestProtocol = 5;
constexpr size_t kMaxGlobalLine = 256;     // a GLOBAL's module or name line
constexpr size_t kMaxNameInMessage = 120;  // hostile names are cut short in error messages
// Fixed ids of the shared constants, created first.
constexpr ObjId kNone = 0, kFalse = 1, kTrue = 2;

std::string clip(std::string_view s) {
    return s.size() <= kMaxNameInMessage ? std::string(s) : std::string(s.substr(0, kMaxNameInMessage)) + "...";
}

const AllowedGlobal* find_allowed(std::string_view module, std::string_view name) {
    for (const auto& g : kAllowedGlobals)
        if (g.module == module && g.name == name) return &g;
    return nullptr;
}

class Machine {
public:
    Machine(std::span<const std::byte> in, const std::string& where, const Limits& limits)
        : in_(in), where_(where), limits_(limits) {
        p_.objects = {None{}, false, true};
    }
    Pickle run();

private:
    template <typename... A> [[noreturn]] void fail(fmt::format_string<A...> f, A&&... a) const {
        throw Error::at(where_, "pickle byte {}: {}", op_pos_, fmt::format(f, std::forward<A>(a)...));
    }
    // Input.
    const char* take(uint64_t n);
    uint64_t le(int bytes);
    std::string_view line();
    // Values and the stack.
    template <typename T> T* get(ObjId id) { return std::get_if<T>(&p_.objects[id]); }
    ObjId add(Object o);
    void charge(uint64_t bytes);
    void push(ObjId id);
    ObjId pop();
    ObjId top();
    std::vector<ObjId> pop_mark();
    // Opcodes.
    bool step(uint8_t op);
    void push_string(uint64_t n, bool is_bytes);
    void push_long(uint64_t n);
    void push_global(std::string_view module, std::string_view name);
    void memo_put(uint64_t key);
    void memo_get(uint64_t key);
    void set_items(ObjId target, const std::vector<ObjId>& kv);
    void append_items(ObjId target, const std::vector<ObjId>& items);
    void build();
    void persistent_id();
    // "Calls" to allowed globals, interpreted.
    ObjId call(ObjId callee, ObjId args, bool nested = false);
    ObjId rebuild_tensor(const std::string& fn, const std::vector<ObjId>& args);
    ObjId codecs_encode(const std::vector<ObjId>& args);
    ObjId copy_items(ObjId source, const std::string& fn, bool as_tuple);
    ObjId dict_from_pairs(ObjId source, const std::string& fn);
    int64_t int_arg(ObjId id, const std::string& fn, std::string_view what);
    Shape dims_arg(ObjId id, const std::string& fn, std::string_view what);

    std::span<const std::byte> in_;
    const std::string& where_;
    const Limits& limits_;
    size_t pos_ = 0, op_pos_ = 0;
    uint64_t derived_bytes_ = 0;
    Pickle p_;
    std::vector<ObjId> stack_;
    std::vector<size_t> marks_;  // stack sizes at each MARK
    std::unordered_map<uint64_t, ObjId> memo_;
};

// ---- input ----------------------------------------------------------------------------------

const char* Machine::take(uint64_t n) {
    if (n > in_.size() - pos_) fail("truncated: needs {} more bytes, {} remain", n, in_.size() - pos_);
    const char* p = reinterpret_cast<const char*>(in_.data() + pos_);
    pos_ += n;
    return p;
}

uint64_t Machine::le(int bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(take(static_cast<uint64_t>(bytes)));
    uint64_t v = 0;
    for (int i = bytes; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

std::string_view Machine::line() {
    const size_t start = pos_;
    while (pos_ < in_.size() && pos_ - start <= kMaxGlobalLine) {
        if (static_cast<char>(in_[pos_++]) == '\n')
            return {reinterpret_cast<const char*>(in_.data() + start), pos_ - 1 - start};
    }
    fail("GLOBAL name is not a line of at most {} characters", kMaxGlobalLine);
}

// ---- values and the stack -------------------------------------------------------------------

ObjId Machine::add(Object o) {
    if (p_.objects.size() >= limits_.max_objects) fail("more than {} values (hostile file?)", limits_.max_objects);
    p_.objects.push_back(std::move(o));
    return static_cast<ObjId>(p_.objects.size() - 1);
}

// Bytes built from few input bytes (copies of memoized values) count against one budget, so that
// the memory a file can make difu use stays a bounded multiple of its size.
void Machine::charge(uint64_t bytes) {
    derived_bytes_ += bytes;
    if (derived_bytes_ > limits_.max_derived_bytes)
        fail("copies more than {} bytes of values (hostile file?)", limits_.max_derived_bytes);
}

void Machine::push(ObjId id) {
    if (stack_.size() >= limits_.max_stack) fail("stack deeper than {} values (hostile file?)", limits_.max_stack);
    stack_.push_back(id);
}

// Like Python's unpickler, a MARK hides what is below it until the mark is popped.
ObjId Machine::top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    return stack_.back();
}

ObjId Machine::pop() {
    const ObjId id = top();
    stack_.pop_back();
    return id;
}

std::vector<ObjId> Machine::pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const auto begin = stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back());
    std::vector<ObjId> items(begin, stack_.end());
    stack_.erase(begin, stack_.end());
    marks_.pop_back();
    return items;
}

// ---- opcodes --------------------------------------------------------------------------------

Pickle Machine::run() {
    while (true) {
        op_pos_ = pos_;
        const auto op = static_cast<uint8_t>(*take(1));
        if (!step(op)) break;
    }
    p_.end = pos_;
    return std::move(p_);
}

// Executes one opcode; false at STOP.
bool Machine::step(uint8_t op) {
    switch (op) {
        case PROTO:
            if (const uint64_t v = le(1); v > kHighestProtocol) fail("unknown pickle protocol {}", v);
            break;
        case FRAME: le(8); break;  // framing is a read-ahead hint; the opcodes inside are read as usual
        case STOP: p_.root = pop(); return false;
        case MARK:
            if (marks_.size() >= limits_.max_mark_depth) fail("MARKs nest deeper than {}", limits_.max_mark_depth);
            marks_.push_back(stack_.size());
            break;
        case POP: pop(); break;
        case POP_MARK: pop_mark(); break;
        case DUP: push(top()); break;
        case NONE: push(kNone); break;
        case NEWTRUE: push(kTrue); break;
        case NEWFALSE: push(kFalse); break;
        case BININT: push(add(static_cast<int64_t>(static_cast<int32_t>(le(4))))); break;
        case BININT1: push(add(static_cast<int64_t>(le(1)))); break;
        case BININT2: push(add(static_cast<int64_t>(le(2)))); break;
        case LONG1: push_long(le(1)); break;
        case LONG4: push_long(le(4)); break;
        case BINFLOAT: {
            const auto* b = reinterpret_cast<const uint8_t*>(take(8));
            uint64_t bits = 0;
            for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];  // big-endian, unlike everything else
            push(add(std::bit_cast<double>(bits)));
            break;
        }
        case SHORT_BINUNICODE: case SHORT_BINSTRING: push_string(le(1), false); break;
        case BINUNICODE: case BINSTRING: push_string(le(4), false); break;
        case BINUNICODE8: push_string(le(8), false); break;
        case SHORT_BINBYTES: push_string(le(1), true); break;
        case BINBYTES: push_string(le(4), true); break;
        case BINBYTES8: push_string(le(8), true); break;
        case EMPTY_DICT: push(add(Dict{})); break;
        case EMPTY_LIST: case EMPTY_SET: push(add(List{})); break;
        case EMPTY_TUPLE: push(add(Tuple{})); break;
        case TUPLE: case FROZENSET: push(add(Tuple{pop_mark()})); break;
        case TUPLE1: { ObjId a = pop(); push(add(Tuple{{a}})); break; }
        case TUPLE2: { ObjId b = pop(), a = pop(); push(add(Tuple{{a, b}})); break; }
        case TUPLE3: { ObjId c = pop(), b = pop(), a = pop(); push(add(Tuple{{a, b, c}})); break; }
        case LIST: push(add(List{pop_mark()})); break;
        case DICT: { auto kv = pop_mark(); push(add(Dict{})); set_items(top(), kv); break; }
        case APPEND: { ObjId v = pop(); append_items(top(), {v}); break; }
        case APPENDS: case ADDITEMS: { auto items = pop_mark(); append_items(top(), items); break; }
        case SETITEM: { ObjId v = pop(), k = pop(); set_items(top(), {k, v}); break; }
        case SETITEMS: { auto kv = pop_mark(); set_items(top(), kv); break; }
        case BINPUT: memo_put(le(1)); break;
        case LONG_BINPUT: memo_put(le(4)); break;
        case MEMOIZE: memo_put(memo_.size()); break;
        case BINGET: memo_get(le(1)); break;
        case LONG_BINGET: memo_get(le(4)); break;
        case GLOBAL: { std::string module(line()); push_global(module, line()); break; }
        case STACK_GLOBAL: {
            const ObjId name = pop(), module = pop();
            const Str *m = get<Str>(module), *n = get<Str>(name);
            if (!m || !n) fail("STACK_GLOBAL needs two strings, got {} and {}", p_.kind(module), p_.kind(name));
            push_global(m->value, n->value);
            break;
        }
        case REDUCE: case NEWOBJ: { ObjId args = pop(), callee = pop(); push(call(callee, args)); break; }
        case NEWOBJ_EX: { pop(); ObjId args = pop(), cls = pop(); push(call(cls, args)); break; }  // kwargs dropped
        case BUILD: build(); break;
        case BINPERSID: persistent_id(); break;
        default:
            // INST, OBJ, EXT*, PERSID, the text INT/LONG/STRING... : nothing torch.save writes.
            fail("opcode 0x{:02x} is not one a torch checkpoint uses (refusing to load)", op);
    }
    return true;
}

void Machine::push_string(uint64_t n, bool is_bytes) {
    if (n > limits_.max_string_bytes) fail("a string of {} bytes is longer than {} (hostile file?)", n,
                                            limits_.max_string_bytes);
    std::string s(take(n), n);
    push(is_bytes ? add(Bytes{std::move(s)}) : add(Str{std::move(s)}));
}

// LONG1/LONG4: n bytes of little-endian two's complement. Checkpoints only need int64 (sizes, offsets,
// steps); wider values (the legacy magic number) are compared as bytes by the caller, not parsed.
void Machine::push_long(uint64_t n) {
    if (n > sizeof(int64_t)) fail("integer of {} bytes does not fit in 64 bits", n);
    if (n == 0) return push(add(int64_t{0}));
    uint64_t v = le(static_cast<int>(n));
    const int unused = 64 - 8 * static_cast<int>(n);
    if (unused > 0 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (64 - unused);  // sign-extend
    push(add(static_cast<int64_t>(v)));
}

void Machine::push_global(std::string_view module, std::string_view name) {
    const AllowedGlobal* g = find_allowed(module, name);
    if (!g)
        throw Error::at(where_, "pickle refers to global '{}.{}', which a checkpoint never needs (refusing to load)",
                        clip(module), clip(name));
    push(add(Global{std::string(g->module), std::string(g->name), g->role, g->storage_dtype}));
}

void Machine::memo_put(uint64_t key) {
    const ObjId v = top();
    if (memo_.size() >= limits_.max_memo && !memo_.count(key))
        fail("memo holds more than {} values (hostile file?)", limits_.max_memo);
    memo_[key] = v;
}

void Machine::memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key {} was never stored", key);
    push(it->second);
}

// Python would call __setitem__ / append on whatever is there; only real containers take items, and
// a placeholder (an inert stand-in for a dict/list subclass) silently drops them.
void Machine::set_items(ObjId target, const std::vector<ObjId>& kv) {
    if (kv.size() % 2) fail("SETITEMS with an odd number ({}) of keys and values", kv.size());
    if (get<Opaque>(target)) return;
    Dict* d = get<Dict>(target);
    if (!d) fail("SETITEM into a {}, not a dict", p_.kind(target));
    for (size_t i = 0; i < kv.size(); i += 2) d->items.emplace_back(kv[i], kv[i + 1]);
}

void Machine::append_items(ObjId target, const std::vector<ObjId>& items) {
    if (get<Opaque>(target)) return;
    List* l = get<List>(target);
    if (!l) fail("APPEND to a {}, not a list", p_.kind(target));
    l->items.insert(l->items.end(), items.begin(), items.end());
}

// BUILD sets an object's state (its __dict__). Placeholders keep it to be looked at; a state dict's
// OrderedDict gets only `_metadata`, and tensors only Python attributes — both dropped.
void Machine::build() {
    const ObjId state = pop(), target = top();
    if (Opaque* o = get<Opaque>(target)) {
        o->state = state;
        return;
    }
    if (!get<Dict>(target) && !get<List>(target) && !get<TensorRef>(target))
        fail("BUILD on a {}, which has no state to set", p_.kind(target));
}

// BINPERSID: torch writes each storage as ('storage', <XStorage>, key, location, numel) — the legacy
// format adds a sixth item, a view of another storage (torch < 0.4), which is not supported.
void Machine::persistent_id() {
    const ObjId pid = pop();
    const Tuple* t = get<Tuple>(pid);
    if (!t || t->items.size() < 5) fail("persistent id is a {}, not a storage tuple", p_.kind(pid));
    const std::vector<ObjId> f = t->items;
    const Str* tag = get<Str>(f[0]);
    const Global* type = get<Global>(f[1]);
    const Str* location = get<Str>(f[3]);
    if (!tag || tag->value != "storage") fail("persistent id is not a ('storage', ...) tuple");
    if (!type || type->role != GlobalRole::StorageType) fail("storage type is a {}", p_.kind(f[1]));
    if (f.size() > 5 && f[5] != kNone) fail("storage views (torch before 0.4) are not supported");
    if (!location) fail("storage location is a {}, not a str", p_.kind(f[3]));
    std::string key;
    if (const Str* s = get<Str>(f[2])) key = s->value;
    else if (const int64_t* i = get<int64_t>(f[2])) key = std::to_string(*i);
    else fail("storage key is a {}", p_.kind(f[2]));
    const int64_t numel = int_arg(f[4], "storage", "numel");
    push(add(StorageRef{type->storage_dtype, std::move(key), location->value, numel}));
}

// ---- calls ----------------------------------------------------------------------------------

// REDUCE / NEWOBJ: callee(*args), interpreted by the callee's role. Nothing is executed.
ObjId Machine::call(ObjId callee, ObjId args_id, bool nested) {
    const Global* g = get<Global>(callee);
    if (!g) fail("calls a {}, which is not a function", p_.kind(callee));
    const std::string fn = g->module + "." + g->name;
    const GlobalRole role = g->role;
    const Tuple* t = get<Tuple>(args_id);
    if (!t) fail("arguments to '{}' are a {}, not a tuple", fn, p_.kind(args_id));
    const std::vector<ObjId> args = t->items;  // a copy: add() may move the objects
    charge(args.size() * sizeof(ObjId));
    switch (role) {
        case GlobalRole::OrderedDict:
            return args.empty() ? add(Dict{}) : dict_from_pairs(args[0], fn);
        case GlobalRole::Set:
            return args.empty() ? add(List{}) : copy_items(args[0], fn, false);
        case GlobalRole::TorchSize:
            return args.empty() ? add(Tuple{}) : copy_items(args[0], fn, true);
        case GlobalRole::RebuildTensor:
            return rebuild_tensor(fn, args);
        case GlobalRole::RebuildParameter:
            if (args.empty() || !get<TensorRef>(args[0])) fail("'{}' needs a tensor as its first argument", fn);
            return args[0];
        case GlobalRole::RebuildFromType: {
            // (func, type, args, state): only tensor rebuilders may be func, so this never recurses twice.
            if (nested || args.size() < 3) fail("'{}' needs (func, type, args, state)", fn);
            const Global* inner = get<Global>(args[0]);
            if (!inner || (inner->role != GlobalRole::RebuildTensor && inner->role != GlobalRole::RebuildParameter))
                fail("'{}' rebuilds with a {}, not a tensor function", fn, p_.kind(args[0]));
            return call(args[0], args[2], true);
        }
        case GlobalRole::CodecsEncode:
            return codecs_encode(args);
        case GlobalRole::Placeholder:
            return add(Opaque{fn});
        case GlobalRole::StorageType:
        case GlobalRole::Inert:
            break;
    }
    fail("calls '{}', which a checkpoint only ever names (refusing to load)", fn);
}

int64_t Machine::int_arg(ObjId id, const std::string& fn, std::string_view what) {
    const int64_t* v = get<int64_t>(id);
    if (!v) fail("'{}': {} is a {}, not an int", fn, what, p_.kind(id));
    if (*v < 0) fail("'{}': {} is negative ({})", fn, what, *v);
    return *v;
}

Shape Machine::dims_arg(ObjId id, const std::string& fn, std::string_view what) {
    const Tuple* t = get<Tuple>(id);
    if (!t) fail("'{}': {} is a {}, not a tuple", fn, what, p_.kind(id));
    if (t->items.size() > limits_.max_dims) fail("'{}': {} has {} dimensions", fn, what, t->items.size());
    const std::vector<ObjId> items = t->items;
    charge(items.size() * sizeof(int64_t));
    Shape s;
    for (ObjId d : items) s.push_back(int_arg(d, fn, what));
    return s;
}

ObjId Machine::rebuild_tensor(const std::string& fn, const std::vector<ObjId>& args) {
    if (args.size() < 4) fail("'{}' takes (storage, storage_offset, size, stride, ...), got {} arguments", fn,
                              args.size());
    if (!get<StorageRef>(args[0])) fail("'{}': storage is a {}, not a persistent storage id", fn, p_.kind(args[0]));
    TensorRef t{args[0], int_arg(args[1], fn, "storage_offset"), dims_arg(args[2], fn, "size"),
                dims_arg(args[3], fn, "stride")};
    if (t.size.size() != t.stride.size())
        fail("'{}': size {} and stride {} differ in rank", fn, shape_str(t.size), shape_str(t.stride));
    return add(std::move(t));
}

// _codecs.encode(str, encoding) for the two encodings pickle uses: latin-1 (bytes under protocol 2)
// maps each code point below 256 to one byte; utf-8 is the str's own bytes.
ObjId Machine::codecs_encode(const std::vector<ObjId>& args) {
    const Str* s = args.empty() ? nullptr : get<Str>(args[0]);
    if (!s) fail("'_codecs.encode' needs a str");
    const Str* enc = args.size() > 1 ? get<Str>(args[1]) : nullptr;
    const std::string encoding = enc ? enc->value : "utf-8";
    const std::string text = s->value;
    charge(text.size());
    if (encoding == "utf-8" || encoding == "utf8") return add(Bytes{text});
    if (encoding != "latin1" && encoding != "latin-1") fail("'_codecs.encode' to '{}'", clip(encoding));
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<uint8_t>(text[i]);
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < text.size() && (static_cast<uint8_t>(text[i + 1]) & 0xc0) == 0x80) {
            out.push_back(static_cast<char>(((c & 0x1f) << 6) | (static_cast<uint8_t>(text[++i]) & 0x3f)));
        } else {
            fail("'_codecs.encode': the str is not latin-1 text");
        }
    }
    return add(Bytes{std::move(out)});
}

// set(iterable) / torch.Size(iterable): a copy of a list's or tuple's items.
ObjId Machine::copy_items(ObjId source, const std::string& fn, bool as_tuple) {
    std::vector<ObjId> items;
    if (const Tuple* t = get<Tuple>(source)) items = t->items;
    else if (const List* l = get<List>(source)) items = l->items;
    else fail("'{}' of a {}", fn, p_.kind(source));
    charge(items.size() * sizeof(ObjId));
    return as_tuple ? add(Tuple{std::move(items)}) : add(List{std::move(items)});
}

// OrderedDict([(k, v), ...]).
ObjId Machine::dict_from_pairs(ObjId source, const std::string& fn) {
    std::vector<ObjId> pairs;
    if (const Tuple* t = get<Tuple>(source)) pairs = t->items;
    else if (const List* l = get<List>(source)) pairs = l->items;
    else fail("'{}' of a {}", fn, p_.kind(source));
    charge(pairs.size() * 2 * sizeof(ObjId));
    Dict d;
    for (ObjId pair : pairs) {
        const Tuple* kv = get<Tuple>(pair);
        if (!kv || kv->items.size() != 2) fail("'{}' item is a {}, not a (key, value) pair", fn, p_.kind(pair));
        d.items.emplace_back(kv->items[0], kv->items[1]);
    }
    return add(std::move(d));
}

}  // namespace

std::string Pickle::kind(ObjId id) const {
    if (id >= objects.size()) return "missing value";
    struct Namer {
        std::string operator()(const None&) const { return "None"; }
        std::string operator()(bool) const { return "bool"; }
        std::string operator()(int64_t) const { return "int"; }
        std::string operator()(double) const { return "float"; }
        std::string operator()(const Str&) const { return "str"; }
        std::string operator()(const Bytes&) const { return "bytes"; }
        std::string operator()(const Tuple&) const { return "tuple"; }
        std::string operator()(const List&) const { return "list"; }
        std::string operator()(const Dict&) const { return "dict"; }
        std::string operator()(const Global& g) const { return "global '" + g.module + "." + g.name + "'"; }
        std::string operator()(const StorageRef&) const { return "storage"; }
        std::string operator()(const TensorRef&) const { return "tensor"; }
        std::string operator()(const Opaque& o) const { return "'" + o.type + "' object"; }
    };
    return std::visit(Namer{}, objects[id]);
}

Pickle unpickle(std::span<const std::byte> bytes, const std::string& where, const Limits& limits) {
    return Machine(bytes, where, limits).run();
}

}  // namespace difu::pickle
