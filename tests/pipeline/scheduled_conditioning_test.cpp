// tests/pipeline/scheduled_conditioning_test.cpp — prompt editing in the pipeline: each distinct text
// encoded once, the step picks the text in force, and the images follow.
#include <gtest/gtest.h>

#include "pipeline/pipeline.h"
#include "pipeline/scheduled_conditioning.h"
#include "test_support.h"

using namespace difu;

TEST(ScheduledConditioning, EncodesEachTextOnceAndSwitchesAtTheStep) {
    std::vector<std::string> encoded;
    auto encode = [&](const std::string& text) {
        encoded.push_back(text);
        return Tensor::from_f32({1}, std::vector<float>{static_cast<float>(encoded.size())});
    };
    ScheduledConditioning c("a [cat:dog:2] [x|y]", 6, encode);
    // webui: [[1,'a cat x'],[2,'a cat y'],[3,'a dog x'],[4,'a dog y'],[5,'a dog x'],[6,'a dog y']],
    // and step s (from 0) takes the first entry with end_at_step >= s, as reconstruct_cond_batch does.
    EXPECT_EQ(c.distinct_texts(), 4u);
    EXPECT_EQ(encoded, (std::vector<std::string>{"a cat x", "a cat y", "a dog x", "a dog y"}));
    auto text_id = [&](int step) { return static_cast<int>(c.at(step).context.f32()[0]); };
    EXPECT_EQ(text_id(0), 1);
    EXPECT_EQ(text_id(1), 1);
    EXPECT_EQ(text_id(2), 2);
    EXPECT_EQ(text_id(3), 3);
    EXPECT_EQ(text_id(4), 4);
    EXPECT_EQ(text_id(5), 3);
    EXPECT_FALSE(c.changes_at(1));
    EXPECT_TRUE(c.changes_at(2));
}

TEST(ScheduledConditioning, EditingAfterTheLastStepIsThePlainPrompt) {
    static DiffusionPipeline pipe(test::fixture_path("sd1-tiny/model.safetensors"), Precision::FP32);
    GenerateRequest r;
    r.width = r.height = 64;
    r.steps = 4;
    r.seed = 3;
    r.sampler = "euler";
    r.prompt = "a [cat:dog:10]";  // switches after step 10 of 4: never
    const auto never = pipe.generate(r).images[0].image.pixels;
    r.prompt = "a cat";
    EXPECT_EQ(pipe.generate(r).images[0].image.pixels, never);
    r.prompt = "a [cat:dog:2]";
    const auto edited = pipe.generate(r).images[0].image.pixels;
    EXPECT_NE(edited, never);
    r.prompt = "a dog";
    EXPECT_NE(pipe.generate(r).images[0].image.pixels, edited);
}
