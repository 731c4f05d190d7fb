#include "io/random_safety_checker.h"

#include <cmath>
#include <random>

namespace difu {

namespace {
// The released checker's config.json: CLIP ViT-L/14 vision at 224², projection 768.
constexpr int64_t kWidth = 1024, kLayers = 24, kMlp = 4096, kPatch = 14, kPositions = 257, kProjection = 768;
constexpr int64_t kConcepts = 17, kSpecialConcepts = 3;
constexpr float kEmbeddingStd = 0.02f;

enum class Fill { Uniform, Ones, Zeros, Normal, Positions };

LazyTensor tensor(std::string name, Shape shape, Fill fill, uint64_t seed, int64_t fan_in = 1) {
    const DType dtype = fill == Fill::Positions ? DType::I64 : DType::F32;
    auto make = [shape, fill, seed, fan_in, name]() {
        if (fill == Fill::Positions) {
            Tensor t = Tensor::empty(shape, DType::I64);
            int64_t* p = t.mutable_data<int64_t>();
            for (int64_t i = 0; i < t.numel(); ++i) p[i] = i;
            return t;
        }
        Tensor t = Tensor::empty(shape);
        std::mt19937_64 gen(seed ^ std::hash<std::string>{}(name));
        const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
        std::uniform_real_distribution<float> uniform(-bound, bound);
        std::normal_distribution<float> normal(0.0f, kEmbeddingStd);
        for (float& v : t.f32_mut())
            v = fill == Fill::Uniform ? uniform(gen) : fill == Fill::Normal ? normal(gen) : fill == Fill::Ones ? 1.0f : 0.0f;
        return t;
    };
    return {std::move(name), std::move(shape), dtype, make};
}
}  // namespace

std::vector<LazyTensor> random_safety_checker_layout(uint64_t seed) {
    std::vector<LazyTensor> t;
    t.push_back(tensor("concept_embeds", {kConcepts, kProjection}, Fill::Normal, seed));
    t.push_back(tensor("concept_embeds_weights", {kConcepts}, Fill::Uniform, seed, 100));
    t.push_back(tensor("special_care_embeds", {kSpecialConcepts, kProjection}, Fill::Normal, seed));
    t.push_back(tensor("special_care_embeds_weights", {kSpecialConcepts}, Fill::Uniform, seed, 100));
    const std::string v = "vision_model.vision_model.";
    t.push_back(tensor(v + "embeddings.class_embedding", {kWidth}, Fill::Normal, seed));
    t.push_back(tensor(v + "embeddings.patch_embedding.weight", {kWidth, 3, kPatch, kPatch}, Fill::Uniform, seed, 3 * kPatch * kPatch));
    t.push_back(tensor(v + "embeddings.position_embedding.weight", {kPositions, kWidth}, Fill::Normal, seed));
    t.push_back(tensor(v + "embeddings.position_ids", {1, kPositions}, Fill::Positions, seed));
    for (int64_t i = 0; i < kLayers; ++i) {
        const std::string l = v + "encoder.layers." + std::to_string(i) + ".";
        for (const char* norm : {"layer_norm1", "layer_norm2"}) {
            t.push_back(tensor(l + norm + ".bias", {kWidth}, Fill::Zeros, seed));
            t.push_back(tensor(l + norm + ".weight", {kWidth}, Fill::Ones, seed));
        }
        t.push_back(tensor(l + "mlp.fc1.bias", {kMlp}, Fill::Uniform, seed, kWidth));
        t.push_back(tensor(l + "mlp.fc1.weight", {kMlp, kWidth}, Fill::Uniform, seed, kWidth));
        t.push_back(tensor(l + "mlp.fc2.bias", {kWidth}, Fill::Uniform, seed, kMlp));
        t.push_back(tensor(l + "mlp.fc2.weight", {kWidth, kMlp}, Fill::Uniform, seed, kMlp));
        for (const char* proj : {"k_proj", "out_proj", "q_proj", "v_proj"}) {
            t.push_back(tensor(l + "self_attn." + proj + ".bias", {kWidth}, Fill::Uniform, seed, kWidth));
            t.push_back(tensor(l + "self_attn." + proj + ".weight", {kWidth, kWidth}, Fill::Uniform, seed, kWidth));
        }
    }
    for (const char* norm : {"post_layernorm", "pre_layrnorm"}) {
        t.push_back(tensor(v + norm + ".bias", {kWidth}, Fill::Zeros, seed));
        t.push_back(tensor(v + norm + ".weight", {kWidth}, Fill::Ones, seed));
    }
    t.push_back(tensor("visual_projection.weight", {kProjection, kWidth}, Fill::Uniform, seed, kWidth));
    return t;
}

void write_random_safety_checker(const std::string& path, uint64_t seed) {
    write_safetensors(path, random_safety_checker_layout(seed),
                      {{"format", "pt"}, {"difu", "random weights (make-random); not a trained safety checker"}});
}

}  // namespace difu
