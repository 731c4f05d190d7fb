// tests/io/ckpt_test.cpp — read_ckpt: the sd1-tiny fixture loads exactly like its safetensors twin; small
// torch-style archives built here cover each layout (Lightning wrapper, nesting, strides, ZIP64, legacy
// format); damaged and hostile archives give an Error that says what is wrong, never a crash.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/checkpoint.h"
#include "test_support.h"

namespace difu {
namespace {

using namespace std::string_view_literals;

// ---- writing test archives ---------------------------------------------------------------------

void put_le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

struct ZipFileSpec {
    std::string name, data;
};

// A STORED zip as torch.save writes it; `zip64` adds the ZIP64 end records and moves the sizes and
// offsets into ZIP64 extra fields, as a > 4 GB checkpoint has them.
std::string write_zip(const std::vector<ZipFileSpec>& files, bool zip64 = false, uint16_t method = 0) {
    std::string out, cd;
    for (const auto& f : files) {
        const uint64_t offset = out.size();
        const uint32_t crc = static_cast<uint32_t>(
            crc32(0, reinterpret_cast<const Bytef*>(f.data.data()), static_cast<uInt>(f.data.size())));
        put_le(out, 0x04034b50, 4);
        put_le(out, 20, 2), put_le(out, 0, 2), put_le(out, method, 2), put_le(out, 0, 4);  // version, flags, method, time
        put_le(out, crc, 4), put_le(out, f.data.size(), 4), put_le(out, f.data.size(), 4);
        put_le(out, f.name.size(), 2), put_le(out, 0, 2);
        out += f.name + f.data;
        put_le(cd, 0x02014b50, 4);
        put_le(cd, 45, 2), put_le(cd, 20, 2), put_le(cd, 0, 2), put_le(cd, method, 2), put_le(cd, 0, 4);
        put_le(cd, crc, 4);
        put_le(cd, zip64 ? 0xffffffff : f.data.size(), 4), put_le(cd, zip64 ? 0xffffffff : f.data.size(), 4);
        put_le(cd, f.name.size(), 2), put_le(cd, zip64 ? 28 : 0, 2), put_le(cd, 0, 2);  // name, extra, comment
        put_le(cd, 0, 2), put_le(cd, 0, 2), put_le(cd, 0, 4), put_le(cd, zip64 ? 0xffffffff : offset, 4);
        cd += f.name;
        if (zip64) {
            put_le(cd, 1, 2), put_le(cd, 24, 2);
            put_le(cd, f.data.size(), 8), put_le(cd, f.data.size(), 8), put_le(cd, offset, 8);
        }
    }
    const uint64_t cd_offset = out.size();
    out += cd;
    if (zip64) {
        const uint64_t end64 = out.size();
        put_le(out, 0x06064b50, 4), put_le(out, 44, 8), put_le(out, 45, 2), put_le(out, 45, 2);
        put_le(out, 0, 4), put_le(out, 0, 4), put_le(out, files.size(), 8), put_le(out, files.size(), 8);
        put_le(out, cd.size(), 8), put_le(out, cd_offset, 8);
        put_le(out, 0x07064b50, 4), put_le(out, 0, 4), put_le(out, end64, 8), put_le(out, 1, 4);
    }
    put_le(out, 0x06054b50, 4), put_le(out, 0, 2), put_le(out, 0, 2);
    put_le(out, zip64 ? 0xffff : files.size(), 2), put_le(out, zip64 ? 0xffff : files.size(), 2);
    put_le(out, zip64 ? 0xffffffff : cd.size(), 4), put_le(out, zip64 ? 0xffffffff : cd_offset, 4);
    put_le(out, 0, 2);
    return out;
}

// A tensor in the pickle: _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride).
struct TensorSpec {
    std::string name, key;
    int64_t numel;
    int64_t offset;
    Shape size, stride;
    std::string type = "FloatStorage";
};

// Pickle opcodes as torch.save (protocol 2) writes them for a dict of tensors.
class TorchPickle {
public:
    TorchPickle() { op("\x80\x02"); }
    TorchPickle& op(std::string_view s) {
        bytes.append(s);
        return *this;
    }
    TorchPickle& str(std::string_view s) {
        op("X"), put_le(bytes, s.size(), 4);
        return op(s);
    }
    TorchPickle& integer(int64_t v) {
        op("\x8a\x08"), put_le(bytes, static_cast<uint64_t>(v), 8);  // LONG1, 8 bytes
        return *this;
    }
    TorchPickle& global(std::string_view module, std::string_view name) {
        return op("c").op(module).op("\n").op(name).op("\n");
    }
    TorchPickle& ints(const Shape& s) {
        op("(");
        for (int64_t v : s) integer(v);
        return op("t");
    }
    TorchPickle& tensor(const TensorSpec& t) {
        global("torch._utils", "_rebuild_tensor_v2").op("(");
        op("(").str("storage").global("torch", t.type).str(t.key).str("cpu").integer(t.numel).op("tQ");
        integer(t.offset).ints(t.size).ints(t.stride).op("\x89").global("collections", "OrderedDict").op(")R");
        return op("tR");
    }
    // {name: tensor, ...} on the stack.
    TorchPickle& tensor_dict(const std::vector<TensorSpec>& ts) {
        op("}(");
        for (const auto& t : ts) str(t.name).tensor(t);
        return op("u");
    }
    std::string bytes;
};

std::string floats(std::initializer_list<float> v) {
    return {reinterpret_cast<const char*>(std::data(v)), v.size() * sizeof(float)};
}

std::shared_ptr<MappedFile> in_memory(const std::string& bytes) {
    return MappedFile::from_bytes("test.ckpt", bytes.data(), bytes.size());
}

std::string error_of(const std::string& bytes) {
    try {
        read_ckpt(in_memory(bytes));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::vector<float> values(const Tensor& t) { return {t.f32().begin(), t.f32().end()}; }

// Lightning layout: {"state_dict": {"a.w": [2, 2], "a.b": [2]}, "global_step": 5}
std::string lightning_zip(const std::string& prefix = "archive", bool zip64 = false) {
    TorchPickle p;
    p.op("}(").str("state_dict");
    p.tensor_dict({{"a.w", "0", 4, 0, {2, 2}, {2, 1}}, {"a.b", "1", 2, 0, {2}, {1}}});
    p.str("global_step").integer(5).op("u.");
    return write_zip({{prefix + "/data.pkl", p.bytes}, {prefix + "/data/0", floats({1, 2, 3, 4})},
                      {prefix + "/data/1", floats({5, 6})}, {prefix + "/version", "3\n"}}, zip64);
}

// ---- the fixture ---------------------------------------------------------------------------------

// The safetensors twin, parsed here: 8-byte LE header length, JSON {name: {dtype, shape, data_offsets}}.
struct SafetensorsEntry {
    std::string dtype;
    Shape shape;
    std::string bytes;
};
std::map<std::string, SafetensorsEntry> parse_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    std::memcpy(&n, file.data(), 8);
    const auto header = nlohmann::json::parse(file.substr(8, n));
    std::map<std::string, SafetensorsEntry> out;
    for (const auto& [name, info] : header.items()) {
        if (name == "__metadata__") continue;
        const auto begin = info["data_offsets"][0].get<size_t>(), end = info["data_offsets"][1].get<size_t>();
        out[name] = {info["dtype"].get<std::string>(), info["shape"].get<Shape>(), file.substr(8 + n + begin, end - begin)};
    }
    return out;
}

TEST(Ckpt, FixtureLoadsExactlyLikeItsSafetensorsTwin) {
    const Checkpoint ck = read_ckpt(MappedFile::open(test::fixture_path("sd1-tiny/model.ckpt")));
    const auto expected = parse_safetensors(test::fixture_path("sd1-tiny/model.safetensors"));
    EXPECT_EQ(ck.format, CheckpointFormat::TorchZip);
    ASSERT_EQ(ck.tensors.size(), expected.size());
    for (const auto& [name, e] : expected) {
        ASSERT_TRUE(ck.has(name)) << name;
        const Tensor& t = ck.tensors.at(name);
        EXPECT_EQ(dtype_name(t.dtype()), e.dtype) << name;
        EXPECT_EQ(t.shape(), e.shape) << name;
        ASSERT_EQ(t.nbytes(), e.bytes.size()) << name;
        EXPECT_EQ(std::memcmp(t.raw(), e.bytes.data(), e.bytes.size()), 0) << name;
        EXPECT_FALSE(t.storage()->owned()) << name << " should be a view into the mapped file";
    }
}

TEST(Ckpt, LoadCheckpointRecognisesTheZipByItsContent) {
    const Checkpoint ck = load_checkpoint(test::fixture_path("sd1-tiny/model.ckpt"));
    EXPECT_EQ(ck.format, CheckpointFormat::TorchZip);
    EXPECT_TRUE(ck.has("model.diffusion_model.out.2.weight"));
}

// ---- layouts -------------------------------------------------------------------------------------

TEST(Ckpt, UnwrapsLightningStateDictWithAnyArchivePrefix) {
    for (const std::string prefix : {"archive", "model", "sd-v1-5-pruned"}) {
        const Checkpoint ck = read_ckpt(in_memory(lightning_zip(prefix)));
        ASSERT_EQ(ck.tensors.size(), 2u) << prefix;
        EXPECT_EQ(ck.get("a.w", {2, 2}).shape(), (Shape{2, 2}));
        EXPECT_EQ(values(ck.get("a.w")), (std::vector<float>{1, 2, 3, 4}));
        EXPECT_EQ(values(ck.get("a.b")), (std::vector<float>{5, 6}));
        EXPECT_EQ(ck.path, "test.ckpt");
    }
}

TEST(Ckpt, ReadsZip64Records) {
    const Checkpoint ck = read_ckpt(in_memory(lightning_zip("archive", /*zip64=*/true)));
    EXPECT_EQ(values(ck.get("a.b")), (std::vector<float>{5, 6}));
}

TEST(Ckpt, NestedDictsGiveDottedNamesAndNonTensorsAreSkipped) {
    // {"w": t, "first_stage": {"enc": t}, "step": 3, "name": "x", "empty": {}}
    TorchPickle p;
    p.op("}(").str("w").tensor({"", "0", 2, 0, {2}, {1}});
    p.str("first_stage").tensor_dict({{"enc", "0", 2, 1, {1}, {1}}});
    p.str("step").integer(3).str("name").str("x").str("empty").op("}").op("u.");
    const Checkpoint ck = read_ckpt(in_memory(write_zip({{"a/data.pkl", p.bytes}, {"a/data/0", floats({7, 8})}})));
    ASSERT_EQ(ck.tensors.size(), 2u);
    EXPECT_EQ(values(ck.get("w")), (std::vector<float>{7, 8}));
    EXPECT_EQ(values(ck.get("first_stage.enc")), (std::vector<float>{8}));  // storage offset 1
}

TEST(Ckpt, StridedTensorBecomesAContiguousCopy) {
    // The transpose of [[1, 2, 3], [4, 5, 6]]: size (3, 2), stride (1, 3).
    TorchPickle p;
    p.tensor_dict({{"t", "0", 6, 0, {3, 2}, {1, 3}}, {"scalar", "0", 6, 5, {}, {}}}).op(".");
    const Checkpoint ck = read_ckpt(in_memory(write_zip({{"a/data.pkl", p.bytes}, {"a/data/0", floats({1, 2, 3, 4, 5, 6})}})));
    const Tensor& t = ck.get("t", {3, 2});
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_EQ(values(t), (std::vector<float>{1, 4, 2, 5, 3, 6}));
    EXPECT_EQ(values(ck.get("scalar", {})), (std::vector<float>{6}));
}

TEST(Ckpt, ReadsTheLegacyFormat) {
    // magic, protocol 1001, sys_info, {"w": tensor, "h": half tensor}, ["0", "1"], then the storages.
    const std::string magic = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";
    TorchPickle sys_info;
    sys_info.op("}(").str("protocol_version").integer(1001).str("little_endian").op("\x88").op("u.");
    TorchPickle object;
    object.tensor_dict({{"w", "0", 3, 1, {2}, {1}}, {"h", "1", 1, 0, {1}, {1}, "HalfStorage"}}).op(".");
    TorchPickle keys;
    keys.op("](").str("0").str("1").op("e.");
    std::string file = magic + std::string("\x80\x02M\xe9\x03.") + sys_info.bytes + object.bytes + keys.bytes;
    put_le(file, 3, 8);
    file += floats({1, 2, 3});
    put_le(file, 1, 8);
    file += std::string("\x00\x3c", 2);  // 1.0 in f16
    const Checkpoint ck = read_ckpt(in_memory(file));
    EXPECT_EQ(ck.format, CheckpointFormat::TorchLegacy);
    EXPECT_EQ(values(ck.get("w", {2})), (std::vector<float>{2, 3}));
    EXPECT_EQ(values(ck.get("h").to(DType::F32)), (std::vector<float>{1}));

    EXPECT_NE(error_of(file.substr(0, file.size() - 1)).find("runs past the end of the file"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02N.").find("no torch magic number"), std::string::npos);
}

// The fuzz seeds were written by Python's own pickle and zipfile over stand-ins for torch's classes
// (OrderedDict with _metadata, nn.Parameter, a numpy-scalar global_step, a transposed tensor, f16, i64).
TEST(Ckpt, PythonWrittenSeedsLoadInEveryLayout) {
    for (const std::string seed : {"lightning_zip.ckpt", "plain_state_dict_model_prefix.ckpt", "protocol4.ckpt",
                                   "legacy.pt"}) {
        const Checkpoint ck = load_checkpoint(test::source_path("fuzz/corpus/ckpt/" + seed));
        ASSERT_EQ(ck.tensors.size(), 6u) << seed;
        EXPECT_EQ(values(ck.get("model.w", {2, 3})), (std::vector<float>{1, 2, 3, 4, 5, 6})) << seed;
        EXPECT_EQ(values(ck.get("model.wt", {3, 2})), (std::vector<float>{1, 4, 2, 5, 3, 6})) << seed;
        EXPECT_EQ(values(ck.get("model.b", {2})), (std::vector<float>{5, 6})) << seed;
        EXPECT_EQ(values(ck.get("model.h", {2}).to(DType::F32)), (std::vector<float>{1, 2})) << seed;
        EXPECT_EQ(ck.get("position_ids", {1, 3}).data<int64_t>()[2], 2) << seed;
        EXPECT_EQ(values(ck.get("scalar", {})), (std::vector<float>{6})) << seed;
        EXPECT_EQ(ck.format, seed.ends_with(".pt") ? CheckpointFormat::TorchLegacy : CheckpointFormat::TorchZip);
    }
}

// ---- damaged and hostile archives ----------------------------------------------------------------

TEST(Ckpt, ForeignGlobalInDataPklIsRefusedNamingIt) {
    TorchPickle p;
    p.global("os", "system").str("echo pwned").op("\x85R.");
    const std::string msg = error_of(write_zip({{"archive/data.pkl", p.bytes}}));
    EXPECT_EQ(msg, "test.ckpt: pickle refers to global 'os.system', which a checkpoint never needs (refusing to load)");
}

TEST(Ckpt, MissingDataPklIsAnError) {
    const std::string msg = error_of(write_zip({{"archive/version", "3\n"}, {"archive/data/0", "abcd"}}));
    EXPECT_NE(msg.find("no '<archive>/data.pkl'"), std::string::npos) << msg;
}

TEST(Ckpt, TwoDataPklsAreAmbiguous) {
    const std::string one = TorchPickle{}.tensor_dict({}).op(".").bytes;
    EXPECT_NE(error_of(write_zip({{"a/data.pkl", one}, {"b/data.pkl", one}})).find("which checkpoint"), std::string::npos);
}

TEST(Ckpt, EveryTruncationIsAnErrorNotACrash) {
    const std::string zip = lightning_zip();
    for (size_t n = 0; n < zip.size(); ++n) {
        const std::string msg = error_of(zip.substr(0, n));
        EXPECT_NE(msg, "") << "a zip cut to " << n << " bytes loaded";
    }
    EXPECT_NE(error_of(zip.substr(0, zip.size() - 1)).find("no end-of-central-directory"), std::string::npos);
}

TEST(Ckpt, EveryByteFlipIsHandled) {
    const std::string zip = lightning_zip();
    for (size_t i = 0; i < zip.size(); ++i) {
        std::string bad = zip;
        bad[i] = static_cast<char>(bad[i] ^ 0xff);
        error_of(bad);  // loads (data bytes) or throws difu::Error; anything else fails the test
    }
}

TEST(Ckpt, OffsetsPastTheEndAreCaught) {
    std::string zip = lightning_zip();
    // The first central directory entry's local header offset (46-byte record, offset at +42).
    const size_t cd = zip.find("PK\x01\x02");
    zip.replace(cd + 42, 4, std::string("\xf0\xff\xff\x7f", 4));
    EXPECT_NE(error_of(zip).find("past the end"), std::string::npos) << error_of(zip);

    std::string bad_cd = lightning_zip();
    const size_t end = bad_cd.size() - 22;
    bad_cd.replace(end + 16, 4, std::string("\x00\x00\x00\x70", 4));  // central directory offset
    EXPECT_NE(error_of(bad_cd).find("central directory at byte"), std::string::npos) << error_of(bad_cd);
}

TEST(Ckpt, HugeEntryCountIsNotTrusted) {
    std::string zip = lightning_zip();
    const size_t end = zip.size() - 22;
    zip.replace(end + 8, 4, std::string("\xfe\xff\xfe\xff", 4));  // entries on disk, entries total
    EXPECT_NE(error_of(zip).find("claims 65534 entries"), std::string::npos) << error_of(zip);
}

TEST(Ckpt, StorageTooSmallForTheTensorIsCaught) {
    // size (4,) from a 3-element storage; then a stride that reaches past it; then numel beyond the bytes.
    auto zip_with = [](TensorSpec t, size_t floats_stored) {
        TorchPickle p;
        p.tensor_dict({t}).op(".");
        return write_zip({{"a/data.pkl", p.bytes}, {"a/data/0", std::string(floats_stored * 4, '\0')}});
    };
    EXPECT_NE(error_of(zip_with({"t", "0", 3, 0, {4}, {1}}, 3)).find("reaches element 3 of storage '0', which has 3"),
              std::string::npos);
    EXPECT_NE(error_of(zip_with({"t", "0", 3, 0, {2, 2}, {2, 1}}, 3)).find("reaches element"), std::string::npos);
    EXPECT_NE(error_of(zip_with({"t", "0", 4, 0, {4}, {1}}, 3)).find("claims 4 F32 elements but holds 12 bytes"),
              std::string::npos);
    EXPECT_NE(error_of(zip_with({"t", "0", 3, INT64_MAX, {2}, {INT64_MAX}}, 3)).find("overflows"), std::string::npos);
    // Stride 0 over 2^40 elements would expand 12 bytes into 4 TiB.
    EXPECT_NE(error_of(zip_with({"t", "0", 3, 0, {int64_t{1} << 40}, {0}}, 3)).find("would expand"), std::string::npos);
}

TEST(Ckpt, MissingStorageEntryIsNamed) {
    TorchPickle p;
    p.tensor_dict({{"t", "9", 1, 0, {1}, {1}}}).op(".");
    EXPECT_NE(error_of(write_zip({{"a/data.pkl", p.bytes}})).find("'a/data/9' is missing"), std::string::npos);
}

TEST(Ckpt, CompressedEntriesAreRefusedClearly) {
    const std::string zip = write_zip({{"a/data.pkl", "x"}}, false, /*method=*/8);
    EXPECT_NE(error_of(zip).find("'a/data.pkl' is deflate-compressed"), std::string::npos) << error_of(zip);
}

TEST(Ckpt, BigEndianArchivesAreRefused) {
    const std::string one = TorchPickle{}.tensor_dict({}).op(".").bytes;
    EXPECT_EQ(error_of(write_zip({{"a/data.pkl", one}, {"a/byteorder", "little"}})), "");
    EXPECT_NE(error_of(write_zip({{"a/data.pkl", one}, {"a/byteorder", "big"}})).find("byte order 'big'"),
              std::string::npos);
}

TEST(Ckpt, DuplicateEntryNamesAreRefused) {
    EXPECT_NE(error_of(write_zip({{"a/data.pkl", "x"}, {"a/data.pkl", "y"}})).find("two entries are named 'a/data.pkl'"),
              std::string::npos);
}

TEST(Ckpt, NotADictIsExplained) {
    TorchPickle p;
    p.op("](e.");
    EXPECT_NE(error_of(write_zip({{"a/data.pkl", p.bytes}})).find("holds a list, not a dict of tensors"),
              std::string::npos);
}

TEST(Ckpt, DictInsideItselfIsBounded) {
    // d = {}; d["d"] = d — walking it for tensors must stop.
    TorchPickle p;
    p.op("}q\x00"sv).str("d").op("h\x00"sv).op("s.");
    EXPECT_NE(error_of(write_zip({{"a/data.pkl", p.bytes}})).find("(hostile file?)"), std::string::npos);
}

}  // namespace
}  // namespace difu
