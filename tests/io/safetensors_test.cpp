// tests/io/safetensors_test.cpp — the safetensors reader on the fixture files and on hostile headers.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

// A safetensors file from a raw header string and `data_bytes` bytes of data.
std::shared_ptr<MappedFile> make_file(const std::string& header, size_t data_bytes, uint64_t claimed_len = 0) {
    std::string bytes(8, '\0');
    uint64_t n = claimed_len ? claimed_len : header.size();
    std::memcpy(bytes.data(), &n, 8);
    bytes += header;
    bytes.append(data_bytes, '\0');
    return MappedFile::from_bytes("bad.safetensors", bytes.data(), bytes.size());
}

std::string error_of(const std::shared_ptr<MappedFile>& f) {
    try {
        read_safetensors(f);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Safetensors, LoadsFixtureZeroCopy) {
    Checkpoint ck = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    EXPECT_EQ(ck.format, CheckpointFormat::Safetensors);
    EXPECT_EQ(ck.tensors.size(), 555u);  // cases.json: "555 tensors"
    const Tensor& t = ck.get("model.diffusion_model.input_blocks.0.0.weight");
    EXPECT_EQ(t.dtype(), DType::F32);
    EXPECT_EQ(t.shape(), (Shape{32, 4, 3, 3}));
    // Zero copy: the tensor's bytes lie inside the mapping.
    EXPECT_GE(t.raw(), ck.file->data());
    EXPECT_LE(t.raw() + t.nbytes(), ck.file->data() + ck.file->size());
    EXPECT_FALSE(t.storage()->writable());
    EXPECT_EQ(ck.get("cond_stage_model.transformer.text_model.embeddings.position_ids").dtype(), DType::I64);
    EXPECT_EQ(ck.get("model_ema.num_updates").dtype(), DType::I32);
}

TEST(Safetensors, Fp16FileEqualsFp32FileAfterRounding) {
    Checkpoint a = load_checkpoint(fixture_path("sd1-tiny/model.safetensors"));
    Checkpoint b = load_checkpoint(fixture_path("sd1-tiny/model-fp16.safetensors"));
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (const auto& [name, ta] : a.tensors) {
        const Tensor& tb = b.get(name, ta.shape());
        if (ta.dtype() != DType::F32) {
            ASSERT_EQ(ta.dtype(), tb.dtype()) << name;
            ASSERT_EQ(std::memcmp(ta.raw(), tb.raw(), ta.nbytes()), 0) << name;
            continue;
        }
        ASSERT_EQ(tb.dtype(), DType::F16) << name;
        // fp16 file == torch's .half() of the fp32 one: our round-to-nearest-even conversion of the
        // fp32 tensor must give the same bits.
        Tensor rounded = ta.to(DType::F16);
        ASSERT_EQ(std::memcmp(rounded.raw(), tb.raw(), tb.nbytes()), 0) << name;
    }
}

TEST(Safetensors, WriterRoundTrips) {
    std::string path = test::temp_dir() + "/rt.safetensors";
    Tensor a = Tensor::from_f32({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
    Tensor b = a.to(DType::BF16);
    write_safetensors(path, {{"a", a}, {"b.c", b}}, {{"format", "pt"}});
    Checkpoint ck = load_checkpoint(path);
    EXPECT_EQ(ck.metadata.at("format"), "pt");
    EXPECT_EQ(test::max_abs_diff(ck.get("a"), a), 0.0);
    EXPECT_EQ(ck.get("b.c").dtype(), DType::BF16);
    EXPECT_EQ(test::max_abs_diff(ck.get("b.c"), a), 0.0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ck.get("b.c").raw()) % 8, 0u);
}

TEST(Safetensors, HeaderLengthEndingIn0x80IsNotTakenForAPickle) {
    // The first byte of a safetensors file is the header length's low byte; 0x80 is also pickle's PROTO.
    for (size_t name_length = 1; name_length < 300; ++name_length) {
        std::string path = test::temp_dir() + "/len.safetensors";
        write_safetensors(path, {{std::string(name_length, 'a'), Tensor::from_f32({1}, std::vector<float>{1})}}, {});
        std::byte first{};
        std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(&first), 1);
        if (first != std::byte{0x80}) continue;
        EXPECT_EQ(load_checkpoint(path).tensors.size(), 1u);
        return;
    }
    FAIL() << "no header length ending in 0x80 was produced";
}

TEST(Safetensors, HostileHeadersGiveOneLineErrors) {
    struct Case { std::string header; size_t data; uint64_t claimed; std::string expect; };
    const std::vector<Case> cases = {
        {"{}", 0, 1ull << 40, "header claims"},
        {"{}", 0, 1000, "truncated"},
        {"{not json", 0, 0, "not valid JSON"},
        {"[1,2]", 0, 0, "not a JSON object"},
        {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, 0, "truncated download"},
        {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, 0, "needs 12 bytes"},
        {R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1, 0, "fp8"},
        {R"({"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}})", 1, 0, "unknown dtype"},
        {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, 0, "non-negative"},
        {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4, 0, "overflows"},
        {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8, 0, "backwards"},
        {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, 0, "overlap"},
        {R"({"a":{"dtype":"F32","shape":[1]}})", 4, 0, "no \"data_offsets\""},
        {R"({"a":{"dtype":1,"shape":[1],"data_offsets":[0,4]}})", 4, 0, "not a string"},
        {R"({"a":7})", 0, 0, "not an object"},
        {R"({"__metadata__":{"k":1}})", 0, 0, "not a string"},
        {R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4, 0, "dimensions"},
    };
    for (const auto& c : cases) {
        std::string msg = error_of(make_file(c.header, c.data, c.claimed));
        EXPECT_NE(msg.find(c.expect), std::string::npos) << c.header << " -> '" << msg << "'";
        EXPECT_EQ(msg.rfind("bad.safetensors: ", 0), 0u) << msg;  // names the file first
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;       // one line
    }
}

TEST(Safetensors, TruncatedFixtureNamesTensorAndCause) {
    auto full = MappedFile::open(fixture_path("sd1-tiny/model.safetensors"));
    auto cut = MappedFile::from_bytes("cut.safetensors", full->data(), full->size() / 2);
    try {
        read_safetensors(cut);
        FAIL() << "a truncated file loaded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("truncated download?"), std::string::npos) << e.what();
    }
}

TEST(Checkpoint, NonCheckpointFilesAreRejectedByContent) {
    for (std::string junk : {std::string("hello"), std::string("just some text, long enough"), std::string(64, '\xff')}) {
        auto f = MappedFile::from_bytes("junk.bin", junk.data(), junk.size());
        try {
            load_checkpoint(f);
            FAIL() << "junk loaded";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).rfind("junk.bin: ", 0), 0u) << e.what();
        }
    }
    EXPECT_THROW(load_checkpoint(std::string("/nonexistent/model.safetensors")), Error);
}
