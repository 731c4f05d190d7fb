// tests/pipeline/textual_inversion_test.cpp — textual-inversion embeddings named in prompts: placed as
// webui's tokenize_line places them, and an embedding made of the token embeddings of some words gives
// exactly the context those words give (SD 1.x, and SDXL's clip_l / clip_g pair).
#include <gtest/gtest.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io/embedding_file.h"
#include "io/safetensors_writer.h"
#include "pipeline/conditioning.h"
#include "pipeline/textual_inversion.h"
#include "test_support.h"

using namespace difu;
using difu::test::fixture_path;

namespace {

// Rows `ids` of a [vocab, width] token embedding, as F32 [n, width].
Tensor rows_of(const Tensor& table, const std::vector<int>& ids) {
    const Tensor t = table.to(DType::F32);
    const int64_t w = t.dim(1);
    Tensor out = Tensor::empty({static_cast<int64_t>(ids.size()), w});
    for (size_t i = 0; i < ids.size(); ++i)
        std::copy_n(t.data<float>() + ids[i] * w, w, out.mutable_data<float>() + static_cast<int64_t>(i) * w);
    return out;
}

std::string fresh_dir(const std::string& name) {
    const std::string dir = test::temp_dir() + "/" + name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace

TEST(TextualInversion, EmbeddingsTakeTheirSlotsAsWebuiPlacesThem) {
    const ClipTokenizer& tok = ClipTokenizer::default_instance();
    EmbeddingVocabulary vocab;
    vocab.add(tok.encode("mystyle"), 3, 0);
    const TokenizedPrompt p = tokenize_prompt(tok, "a mystyle cat", kCommaPaddingBacktrack, &vocab);
    ASSERT_EQ(p.chunks.size(), 1u);
    const PromptChunk& c = p.chunks[0];
    const int a = tok.encode("a")[0], cat = tok.encode("cat")[0];
    EXPECT_EQ(std::vector<int>(c.ids.begin(), c.ids.begin() + 7), (std::vector<int>{kClipStartToken, a, 0, 0, 0, cat, kClipEndToken}));
    ASSERT_EQ(c.fixes.size(), 1u);
    EXPECT_EQ(c.fixes[0].offset, 1);
    EXPECT_EQ(p.token_count, 5);  // its vectors count in the 75-token budget
    // 73 words then the 3-vector embedding: it does not fit, so it opens the next chunk
    std::string prompt;
    for (int i = 0; i < 73; ++i) prompt += "cat ";
    const TokenizedPrompt q = tokenize_prompt(tok, prompt + "mystyle", kCommaPaddingBacktrack, &vocab);
    ASSERT_EQ(q.chunks.size(), 2u);
    EXPECT_TRUE(q.chunks[0].fixes.empty());
    ASSERT_EQ(q.chunks[1].fixes.size(), 1u);
    EXPECT_EQ(q.chunks[1].fixes[0].offset, 0);
    EXPECT_EQ(q.token_count, 75 + 3);
}

TEST(TextualInversion, AnEmbeddingOfTokenEmbeddingsGivesTheContextOfThoseTokens) {
    const std::string model = fixture_path("sd1-tiny/model.safetensors");
    const Checkpoint ck = load_checkpoint(model);
    const ModelConfig cfg = detect_model(ck);
    const ClipTokenizer& tok = ClipTokenizer::default_instance();
    const std::vector<int> ids = tok.encode("astronaut riding");
    const std::string dir = fresh_dir("ti-sd1");
    write_safetensors(dir + "/rider.safetensors",
                      {{"emb_params", rows_of(ck.get("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"), ids)}});
    write_safetensors(dir + "/wide.safetensors", {{"emb_params", Tensor::empty({2, 1024})}});  // SD 2.x width: skipped
    EmbeddingLibrary lib(dir, cfg);
    const auto set = lib.snapshot();
    ASSERT_EQ(set->loaded.size(), 1u);
    ASSERT_EQ(set->skipped.size(), 1u);
    EXPECT_EQ(set->skipped[0].name, "wide");
    ClipTextModel clip(ck, cfg.text());
    const ClipTextModel* encoders[] = {&clip};
    Arena arena;
    const TextEncoding spliced = encode_prompt(encoders, tok, "a photograph of an rider a (horse:1.2)", 1, arena, set.get());
    const TextEncoding words = encode_prompt(encoders, tok, "a photograph of an astronaut riding a (horse:1.2)", 1, arena);
    EXPECT_EQ(test::max_abs_diff(spliced.hidden, words.hidden), 0.0);
    const TextEncoding plain = encode_prompt(encoders, tok, "a photograph of an rider a (horse:1.2)", 1, arena);
    EXPECT_GT(test::max_abs_diff(plain.hidden, words.hidden), 1e-3);  // without the library "rider" is a word
}

TEST(TextualInversion, SdxlEmbeddingsGiveEachEncoderItsOwnVectors) {
    const Checkpoint ck = load_checkpoint(fixture_path("sdxl-tiny/model.safetensors"));
    const ModelConfig cfg = detect_model(ck);
    const ClipTokenizer& tok = ClipTokenizer::default_instance();
    const std::vector<int> ids = tok.encode("red lighthouse");
    const std::string dir = fresh_dir("ti-sdxl");
    write_safetensors(dir + "/beacon.safetensors",
                      {{"clip_g", rows_of(ck.get("conditioner.embedders.1.model.token_embedding.weight"), ids)},
                       {"clip_l", rows_of(ck.get("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"), ids)}});
    EmbeddingLibrary lib(dir, cfg);
    ASSERT_EQ(lib.snapshot()->loaded.size(), 1u);
    ClipTextModel l(ck, cfg.text_encoders[0]), g(ck, cfg.text_encoders[1]);
    const ClipTextModel* encoders[] = {&l, &g};
    Arena arena;
    const TextEncoding spliced = encode_prompt(encoders, tok, "a beacon at night", 1, arena, lib.snapshot().get());
    const TextEncoding words = encode_prompt(encoders, tok, "a red lighthouse at night", 1, arena);
    EXPECT_EQ(test::max_abs_diff(spliced.hidden, words.hidden), 0.0);
    EXPECT_EQ(test::max_abs_diff(spliced.pooled, words.pooled), 0.0);
}

TEST(TextualInversion, FilesThatAreNoEmbeddingAreNamed) {
    EXPECT_THROW(read_embedding(fixture_path("sd1-tiny-lora/lora_kohya.safetensors")), Error);
    const std::string dir = fresh_dir("ti-bad");
    write_safetensors(dir + "/huge.safetensors", {{"emb_params", Tensor::empty({80, 128})}});
    EXPECT_THROW(read_embedding(dir + "/huge.safetensors"), Error);
    write_safetensors(dir + "/one.bin.safetensors", {{"<tok>", Tensor::empty({128})}});  // diffusers: one vector
    EXPECT_EQ(read_embedding(dir + "/one.bin.safetensors").vectors(), 1);
}
