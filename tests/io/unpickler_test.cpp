// tests/io/unpickler_test.cpp — the restricted unpickler: what torch.save writes comes out as plain values,
// and anything that would make Python run code, or a hostile file exhaust memory, is refused by name.
#include "io/unpickler.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace difu::pickle {
namespace {

// Bytes from a string literal written as \x escapes (embedded NULs included).
template <size_t N> std::string bytes_of(const char (&s)[N]) { return std::string(s, N - 1); }

std::span<const std::byte> span_of(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Pickle run(const std::string& s, const Limits& limits = {}) { return unpickle(span_of(s), "test.pkl", limits); }

// The message of the Error that unpickling `s` throws ("" when it does not throw).
std::string error_of(const std::string& s, const Limits& limits = {}) {
    try {
        run(s, limits);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Writes pickle opcodes by name, for the cases Python's pickle cannot produce without torch.
class PickleWriter {
public:
    PickleWriter& op(char c) { return raw(std::string(1, c)); }
    PickleWriter& proto(int v) { return op('\x80').op(static_cast<char>(v)); }
    PickleWriter& str(std::string_view s) { return op('X').u32(static_cast<uint32_t>(s.size())).raw(s); }
    PickleWriter& int1(uint8_t v) { return op('K').op(static_cast<char>(v)); }
    PickleWriter& int4(int32_t v) { return op('J').u32(static_cast<uint32_t>(v)); }
    PickleWriter& global(std::string_view module, std::string_view name) {
        return op('c').raw(module).op('\n').raw(name).op('\n');
    }
    PickleWriter& put(uint8_t i) { return op('q').op(static_cast<char>(i)); }
    PickleWriter& get(uint8_t i) { return op('h').op(static_cast<char>(i)); }
    PickleWriter& u32(uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
        return *this;
    }
    PickleWriter& raw(std::string_view s) {
        bytes.append(s);
        return *this;
    }
    // ('storage', torch.<type>, key, 'cpu', numel) BINPERSID, as torch's persistent_id writes it.
    PickleWriter& storage(std::string_view type, std::string_view key, uint8_t numel) {
        return op('(').str("storage").global("torch", type).str(key).str("cpu").int1(numel).op('t').op('Q');
    }
    std::string bytes;
};

TEST(Unpickler, ReadsPlainValuesWrittenByPythonProtocol2) {
    // pickle.dumps({'a': 1, 'b': [1.5, None, True, False], 'c': (1, 2, 3), 'd': 'é', 'big': 2**40,
    //               'neg': -5, 'n300': 300}, protocol=2)
    const Pickle p = run(bytes_of(
        "\x80\x02\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x4b\x01\x58\x01\x00\x00\x00\x62\x71\x02\x5d\x71\x03"
        "\x28\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x4e\x88\x89\x65\x58\x01\x00\x00\x00\x63\x71\x04\x4b\x01\x4b\x02\x4b"
        "\x03\x87\x71\x05\x58\x01\x00\x00\x00\x64\x71\x06\x58\x02\x00\x00\x00\xc3\xa9\x71\x07\x58\x03\x00\x00\x00\x62"
        "\x69\x67\x71\x08\x8a\x06\x00\x00\x00\x00\x00\x01\x58\x03\x00\x00\x00\x6e\x65\x67\x71\x09\x4a\xfb\xff\xff\xff"
        "\x58\x04\x00\x00\x00\x6e\x33\x30\x30\x71\x0a\x4d\x2c\x01\x75\x2e"));
    const Dict& d = *p.get<Dict>(p.root);
    ASSERT_EQ(d.items.size(), 7u);
    EXPECT_EQ(p.get<Str>(d.items[0].first)->value, "a");
    EXPECT_EQ(*p.get<int64_t>(d.items[0].second), 1);
    const List& b = *p.get<List>(d.items[1].second);
    ASSERT_EQ(b.items.size(), 4u);
    EXPECT_EQ(*p.get<double>(b.items[0]), 1.5);
    EXPECT_TRUE(p.get<None>(b.items[1]));
    EXPECT_TRUE(*p.get<bool>(b.items[2]));
    EXPECT_FALSE(*p.get<bool>(b.items[3]));
    EXPECT_EQ(p.get<Tuple>(d.items[2].second)->items.size(), 3u);
    EXPECT_EQ(p.get<Str>(d.items[3].second)->value, "\xc3\xa9");
    EXPECT_EQ(*p.get<int64_t>(d.items[4].second), int64_t{1} << 40);  // LONG1
    EXPECT_EQ(*p.get<int64_t>(d.items[5].second), -5);                 // BININT, negative
    EXPECT_EQ(*p.get<int64_t>(d.items[6].second), 300);                // BININT2
}

TEST(Unpickler, ReadsProtocol4FramesAndMemoize) {
    // The same dict with protocol=4: FRAME, SHORT_BINUNICODE, MEMOIZE.
    const Pickle p = run(bytes_of(
        "\x80\x04\x95\x57\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x4b\x01\x8c\x01\x62\x94\x5d\x94\x28"
        "\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x4e\x88\x89\x65\x8c\x01\x63\x94\x4b\x01\x4b\x02\x4b\x03\x87\x94\x8c\x01"
        "\x64\x94\x8c\x02\xc3\xa9\x94\x8c\x03\x62\x69\x67\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x03\x6e\x65\x67\x94"
        "\x4a\xfb\xff\xff\xff\x8c\x04\x6e\x33\x30\x30\x94\x4d\x2c\x01\x75\x2e"));
    const Dict& d = *p.get<Dict>(p.root);
    ASSERT_EQ(d.items.size(), 7u);
    EXPECT_EQ(p.get<Str>(d.items[6].first)->value, "n300");
    EXPECT_EQ(*p.get<int64_t>(d.items[4].second), int64_t{1} << 40);
}

TEST(Unpickler, RefusesOsSystemNamingIt) {
    // cos\nsystem\n (GLOBAL) ('echo pwned',) REDUCE — what a malicious .ckpt does.
    const std::string evil = PickleWriter{}.proto(2).global("os", "system").str("echo pwned").op('\x85').op('R').op('.').bytes;
    const std::string msg = error_of(evil);
    EXPECT_NE(msg.find("test.pkl: pickle refers to global 'os.system', which a checkpoint never needs (refusing to load)"),
              std::string::npos) << msg;
}

TEST(Unpickler, RefusesForeignGlobalsFromPythonItself) {
    // pickle.dumps(Evil()) with __reduce__ -> (os.system, ('echo pwned',)), protocol 2 (GLOBAL posix.system)
    // and protocol 4 (STACK_GLOBAL).
    const std::string p2 = bytes_of(
        "\x80\x02\x63\x70\x6f\x73\x69\x78\x0a\x73\x79\x73\x74\x65\x6d\x0a\x71\x00\x58\x0a\x00\x00\x00\x65\x63\x68\x6f"
        "\x20\x70\x77\x6e\x65\x64\x71\x01\x85\x71\x02\x52\x71\x03\x2e");
    const std::string p4 = bytes_of(
        "\x80\x04\x95\x25\x00\x00\x00\x00\x00\x00\x00\x8c\x05\x70\x6f\x73\x69\x78\x94\x8c\x06\x73\x79\x73\x74\x65\x6d"
        "\x94\x93\x94\x8c\x0a\x65\x63\x68\x6f\x20\x70\x77\x6e\x65\x64\x94\x85\x94\x52\x94\x2e");
    EXPECT_NE(error_of(p2).find("'posix.system'"), std::string::npos);
    EXPECT_NE(error_of(p4).find("'posix.system'"), std::string::npos);
    EXPECT_NE(error_of(PickleWriter{}.proto(2).global("builtins", "eval").op('.').bytes).find("'builtins.eval'"),
              std::string::npos);
}

TEST(Unpickler, RefusesOpcodesThatInstantiateClasses) {
    // INST ('i') and OBJ ('o') build arbitrary objects; torch never writes them.
    EXPECT_NE(error_of(PickleWriter{}.op('(').op('i').raw("os\nsystem\n").op('.').bytes).find("opcode 0x69"),
              std::string::npos);
    EXPECT_NE(error_of(PickleWriter{}.op('(').op('o').op('.').bytes).find("not one a torch checkpoint uses"),
              std::string::npos);
}

TEST(Unpickler, AllowedButUncallableGlobalIsRefusedWhenCalled) {
    const std::string s = PickleWriter{}.proto(2).global("torch", "FloatStorage").op(')').op('R').op('.').bytes;
    EXPECT_NE(error_of(s).find("calls 'torch.FloatStorage'"), std::string::npos) << error_of(s);
}

TEST(Unpickler, BuildsTensorDescriptionFromRebuildTensorV2) {
    // _rebuild_tensor_v2(storage('0', FloatStorage, 6), 1, (2, 2), (2, 1), False, OrderedDict())
    const std::string s = PickleWriter{}.proto(2).global("torch._utils", "_rebuild_tensor_v2")
        .op('(').storage("FloatStorage", "0", 6).int1(1).int1(2).int1(2).op('\x86').int1(2).int1(1).op('\x86')
        .op('\x89').global("collections", "OrderedDict").op(')').op('R').op('t').op('R').op('.').bytes;
    const Pickle p = run(s);
    const TensorRef& t = *p.get<TensorRef>(p.root);
    EXPECT_EQ(t.storage_offset, 1);
    EXPECT_EQ(t.size, (Shape{2, 2}));
    EXPECT_EQ(t.stride, (Shape{2, 1}));
    const StorageRef& st = *p.get<StorageRef>(t.storage);
    EXPECT_EQ(st.dtype, DType::F32);
    EXPECT_EQ(st.key, "0");
    EXPECT_EQ(st.location, "cpu");
    EXPECT_EQ(st.numel, 6);
}

TEST(Unpickler, RebuildParameterYieldsItsTensor) {
    const std::string s = PickleWriter{}.proto(2).global("torch._utils", "_rebuild_parameter")
        .op('(').global("torch._utils", "_rebuild_tensor_v2")
        .op('(').storage("HalfStorage", "7", 1).int1(0).op(')').op(')').op('\x89').op('N').op('t').op('R')
        .op('\x88').global("collections", "OrderedDict").op(')').op('R').op('t').op('R').op('.').bytes;
    const Pickle p = run(s);
    ASSERT_TRUE(p.get<TensorRef>(p.root)) << p.kind(p.root);
    EXPECT_EQ(p.get<StorageRef>(p.get<TensorRef>(p.root)->storage)->dtype, DType::F16);
}

TEST(Unpickler, OrderedDictStateIsDroppedNotMergedIntoItems) {
    // collections.OrderedDict([('w', 1)]) with a _metadata attribute, as state_dict() returns it.
    const Pickle p = run(bytes_of(
        "\x80\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a"
        "\x71\x00\x29\x52\x71\x01\x58\x01\x00\x00\x00\x77\x71\x02\x4b\x01\x73\x7d\x71\x03\x58\x09\x00\x00\x00\x5f\x6d"
        "\x65\x74\x61\x64\x61\x74\x61\x71\x04\x7d\x71\x05\x58\x00\x00\x00\x00\x71\x06\x7d\x71\x07\x58\x07\x00\x00\x00"
        "\x76\x65\x72\x73\x69\x6f\x6e\x71\x08\x4b\x01\x73\x73\x73\x62\x2e"));
    const Dict& d = *p.get<Dict>(p.root);
    ASSERT_EQ(d.items.size(), 1u);
    EXPECT_EQ(p.get<Str>(d.items[0].first)->value, "w");
}

TEST(Unpickler, Protocol2BytesComeThroughCodecsEncode) {
    // pickle.dumps(b'\x00\xff\x80A', protocol=2) -> _codecs.encode('\x00\xff\x80A', 'latin1')
    const Pickle p = run(bytes_of(
        "\x80\x02\x63\x5f\x63\x6f\x64\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x00\x58\x06\x00\x00\x00\x00\xc3"
        "\xbf\xc2\x80\x41\x71\x01\x58\x06\x00\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x02\x86\x71\x03\x52\x71\x04\x2e"));
    EXPECT_EQ(p.get<Bytes>(p.root)->value, bytes_of("\x00\xff\x80\x41"));
}

TEST(Unpickler, SetBecomesList) {
    // pickle.dumps({3, 4}, protocol=2) -> __builtin__.set([3, 4])
    const Pickle p = run(bytes_of(
        "\x80\x02\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x73\x65\x74\x0a\x71\x00\x5d\x71\x01\x28\x4b\x03"
        "\x4b\x04\x65\x85\x71\x02\x52\x71\x03\x2e"));
    EXPECT_EQ(p.get<List>(p.root)->items.size(), 2u);
}

TEST(Unpickler, NumpyScalarBecomesInertPlaceholder) {
    // numpy.int64(5) under protocol 2: scalar(dtype('i8', False, True) + BUILD state, _codecs.encode(raw bytes))
    const std::string s = PickleWriter{}.proto(2).global("numpy.core.multiarray", "scalar").put(0)
        .global("numpy", "dtype").str("i8").op('\x89').op('\x88').op('\x87').op('R')
        .op('(').int1(3).str("<").op('N').op('N').op('N').int4(-1).int4(-1).int1(0).op('t').op('b')
        .global("_codecs", "encode").raw(bytes_of("X\x08\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00"))
        .str("latin1").op('\x86').op('R').op('\x86').op('R').op('.').bytes;
    const Pickle p = run(s);
    ASSERT_TRUE(p.get<Opaque>(p.root)) << p.kind(p.root);
    EXPECT_EQ(p.get<Opaque>(p.root)->type, "numpy.core.multiarray.scalar");
}

TEST(Unpickler, LightningCallbackClassIsAnInertDictKey) {
    // {"callbacks": {ModelCheckpoint: {"best_model_score": 0.5}}} as older Lightning wrote it.
    const std::string s = PickleWriter{}.proto(2).op('}').str("callbacks").op('}')
        .global("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint").op('}').str("best_model_score")
        .raw(bytes_of("G\x3f\xe0\x00\x00\x00\x00\x00\x00")).op('s').op('s').op('s').op('.').bytes;
    const Pickle p = run(s);
    const Dict& callbacks = *p.get<Dict>(p.get<Dict>(p.root)->items[0].second);
    EXPECT_EQ(p.kind(callbacks.items[0].first), "global 'pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint'");
}

TEST(Unpickler, ReportsWhereAPickleEndsForBackToBackPickles) {
    const std::string two = PickleWriter{}.proto(2).int1(7).op('.').proto(2).str("x").op('.').bytes;
    const Pickle first = run(two);
    EXPECT_EQ(first.end, 5u);
    EXPECT_EQ(*first.get<int64_t>(first.root), 7);
    const Pickle second = run(two.substr(first.end));
    EXPECT_EQ(second.get<Str>(second.root)->value, "x");
}

TEST(Unpickler, Long1SignExtendsAndRefusesMoreThan64Bits) {
    EXPECT_EQ(*run(bytes_of("\x8a\x01\xff.")).get<int64_t>(3), -1);
    EXPECT_EQ(*run(bytes_of("\x8a\x00.")).get<int64_t>(3), 0);
    // torch's legacy magic number 0x1950a86a20f9469cfc6c is 80 bits.
    EXPECT_NE(error_of(bytes_of("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e")).find("64 bits"),
              std::string::npos);
}

TEST(Unpickler, TruncatedInputIsAnError) {
    EXPECT_NE(error_of(bytes_of("\x80\x02}X\x05\x00\x00\x00" "ab")).find("truncated"), std::string::npos);
    EXPECT_NE(error_of(bytes_of("\x80\x02}")).find("truncated"), std::string::npos);  // no STOP
    EXPECT_NE(error_of("").find("truncated"), std::string::npos);
}

TEST(Unpickler, HugeLengthsAreRefusedBeforeAllocating) {
    EXPECT_NE(error_of(bytes_of("X\xff\xff\xff\xff")).find("longer than"), std::string::npos);
    EXPECT_NE(error_of(bytes_of("\x8d\xff\xff\xff\xff\xff\xff\xff\x7f")).find("longer than"), std::string::npos);
    EXPECT_NE(error_of(bytes_of("B\x00\x00\x00\x01")).find("truncated"), std::string::npos);  // 16 MiB claimed
}

TEST(Unpickler, DeepMarkNestingIsRefused) {
    EXPECT_NE(error_of(std::string(100000, '(')).find("MARKs nest deeper than 1000"), std::string::npos);
}

TEST(Unpickler, StackMemoAndObjectCountsAreBounded) {
    Limits small;
    small.max_stack = 8;
    EXPECT_NE(error_of(std::string(9, 'N') + ".", small).find("stack deeper than 8"), std::string::npos);
    small = {};
    small.max_memo = 2;
    EXPECT_NE(error_of(bytes_of("Nq\x00q\x01q\x02."), small).find("memo holds more than 2"), std::string::npos);
    small = {};
    small.max_objects = 10;  // 3 shared constants + 8 lists
    EXPECT_NE(error_of(std::string(8, ']') + ".", small).find("more than 10 values"), std::string::npos);
    small = {};
    small.max_derived_bytes = 1000;  // set() of a memoized list, over and over, copies it each time
    PickleWriter w;
    w.op(']').put(0).op('(');
    for (int i = 0; i < 100; ++i) w.op('N');
    w.op('e').op('(');
    for (int i = 0; i < 100; ++i) w.global("builtins", "set").get(0).op('\x85').op('R');
    EXPECT_NE(error_of(w.op('t').op('.').bytes, small).find("copies more than 1000 bytes"), std::string::npos);
}

TEST(Unpickler, StackUnderflowAndMissingMemoAreErrors) {
    EXPECT_NE(error_of("R").find("stack underflow"), std::string::npos);
    EXPECT_NE(error_of("N(0.").find("stack underflow"), std::string::npos);  // POP may not reach below a MARK
    EXPECT_NE(error_of("e").find("no MARK"), std::string::npos);
    EXPECT_NE(error_of(bytes_of("h\x05.")).find("memo key 5 was never stored"), std::string::npos);
}

TEST(Unpickler, CyclicListIsHarmless) {
    // l = []; l.append(l) -> EMPTY_LIST BINPUT 0 BINGET 0 APPEND STOP
    const Pickle p = run(bytes_of("]q\x00h\x00" "a."));
    const List& l = *p.get<List>(p.root);
    ASSERT_EQ(l.items.size(), 1u);
    EXPECT_EQ(l.items[0], p.root);
}

TEST(Unpickler, PersistentIdMustBeAStorageTuple) {
    EXPECT_NE(error_of("NQ.").find("persistent id is a None"), std::string::npos);
    const std::string wrong_type = PickleWriter{}.op('(').str("storage").global("collections", "OrderedDict")
        .str("0").str("cpu").int1(1).op('t').op('Q').op('.').bytes;
    EXPECT_NE(error_of(wrong_type).find("storage type is a global 'collections.OrderedDict'"), std::string::npos);
}

TEST(Unpickler, TensorArgumentsAreChecked) {
    auto tensor = [](std::string_view size, std::string_view stride) {
        return PickleWriter{}.global("torch._utils", "_rebuild_tensor_v2").op('(').storage("FloatStorage", "0", 4)
            .int1(0).raw(size).raw(stride).op('\x89').op('N').op('t').op('R').op('.').bytes;
    };
    EXPECT_EQ(error_of(tensor("K\x02\x85", "K\x01\x85")), "");
    EXPECT_NE(error_of(tensor("K\x02\x85", ")")).find("differ in rank"), std::string::npos);
    EXPECT_NE(error_of(tensor(bytes_of("J\xff\xff\xff\xff\x85"), "K\x01\x85")).find("size is negative"),
              std::string::npos);
    EXPECT_NE(error_of(tensor("N", "K\x01\x85")).find("size is a None"), std::string::npos);
}

}  // namespace
}  // namespace difu::pickle
