#include "models/safety_checker.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace difu {

namespace {

constexpr int kClipImageSize = 224;
constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};  // CLIPFeatureExtractor's image_mean
constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};   // and image_std
constexpr double kSpecialCareAdjustment = 0.01;
constexpr double kNormalizeEps = 1e-12;  // torch.nn.functional.normalize

// numpy's round(x, 3) on a float64: rint(x * 1000) / 1000.
double numpy_round3(double x) { return std::nearbyint(x * 1000.0) / 1000.0; }

// Rows of `m` [k, P] scaled to unit length as F.normalize does (x / max(||x||, eps)), in float32.
std::vector<float> unit_rows(const float* m, int64_t rows, int64_t cols) {
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
        float sq = 0;
        for (int64_t c = 0; c < cols; ++c) sq += m[r * cols + c] * m[r * cols + c];
        const float norm = std::max(std::sqrt(sq), static_cast<float>(kNormalizeEps));
        for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * cols + c)] = m[r * cols + c] / norm;
    }
    return out;
}

std::string resolve_file(const std::string& path) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(path)) return path;
    for (const char* name : {"model.safetensors", "pytorch_model.bin"})
        if (fs::exists(fs::path(path) / name)) return (fs::path(path) / name).string();
    throw Error::at(path, "no model.safetensors or pytorch_model.bin in this safety-checker folder");
}

// The head count from the HF config.json beside the weights (vision_config.num_attention_heads); 0 if none.
int heads_from_config(const std::string& file) {
    const auto config = std::filesystem::path(file).parent_path() / "config.json";
    std::ifstream in(config);
    if (!in) return 0;
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("vision_config") || !j["vision_config"].is_object()) return 0;
    const auto& v = j["vision_config"];
    return v.contains("num_attention_heads") && v["num_attention_heads"].is_number_integer() ? v["num_attention_heads"].get<int>() : 0;
}

}  // namespace

Image clip_resize_short_side(const Image& rgb, int size) {
    const int shorter = std::min(rgb.width, rgb.height), longer = std::max(rgb.width, rgb.height);
    if (shorter == size) return rgb;  // transformers returns the picture untouched
    const int new_long = static_cast<int>(static_cast<double>(size) * longer / shorter);
    return rgb.width <= rgb.height ? resize_image(rgb, size, new_long, Resample::Bicubic)
                                   : resize_image(rgb, new_long, size, Resample::Bicubic);
}

Image clip_center_crop(const Image& rgb, int size) {
    const int top = (rgb.height - size) / 2, left = (rgb.width - size) / 2;
    if (top < 0 || left < 0) throw Error::make("a {}x{} picture is smaller than the {} crop", rgb.width, rgb.height, size);
    return crop_image(rgb, left, top, size, size);
}

Tensor clip_pixel_values(const std::vector<Image>& cropped) {
    if (cropped.empty()) throw Error::make("no pictures to check");
    const int s = cropped.front().width;
    Tensor x = Tensor::empty({static_cast<int64_t>(cropped.size()), 3, s, s});
    float* out = x.mutable_data<float>();
    for (size_t b = 0; b < cropped.size(); ++b)
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < s * s; ++i) {
                const float v = static_cast<float>(cropped[b].pixels[static_cast<size_t>(i) * 3 + c]) / 255.0f;
                out[(b * 3 + c) * s * s + i] = (v - kClipMean[c]) / kClipStd[c];
            }
    return x;
}

SafetyChecker::SafetyChecker(const std::string& path) : path_(resolve_file(path)), ck_(load_checkpoint(path_)) {
    vision_ = std::make_unique<ClipVisionModel>(ck_, "vision_model.vision_model.", "visual_projection", heads_from_config(path_));
    const int64_t P = vision_->config().projection;
    auto embeds = [&](const char* name) {
        const Tensor& t = ck_.get(name);
        if (t.ndim() != 2 || t.dim(1) != P) throw Error::at(path_, "{} has shape {}, expected [k, {}]", name, shape_str(t.shape()), P);
        return t.to(DType::F32).contiguous();
    };
    auto weights = [&](const char* name, int64_t k) {
        const Tensor t = ck_.get(name, {k}).to(DType::F32).contiguous();
        return std::vector<float>(t.data<float>(), t.data<float>() + k);
    };
    concept_embeds_ = embeds("concept_embeds");
    special_care_embeds_ = embeds("special_care_embeds");
    concept_weights_ = weights("concept_embeds_weights", concept_embeds_.dim(0));
    special_weights_ = weights("special_care_embeds_weights", special_care_embeds_.dim(0));
}

Tensor SafetyChecker::preprocess(const std::vector<Image>& pictures) const {
    const int size = static_cast<int>(vision_->config().image_size);
    std::vector<Image> cropped;
    for (const Image& p : pictures)
        cropped.push_back(clip_center_crop(clip_resize_short_side(p.channels == 4 ? flatten_alpha(p) : p, size), size));
    return clip_pixel_values(cropped);
}

std::vector<SafetyVerdict> SafetyChecker::verdicts(const Tensor& image_embeds) const {
    const int64_t n = image_embeds.dim(0), P = image_embeds.dim(1);
    const std::vector<float> img = unit_rows(image_embeds.contiguous().data<float>(), n, P);
    const std::vector<float> con = unit_rows(concept_embeds_.data<float>(), concept_embeds_.dim(0), P);
    const std::vector<float> spe = unit_rows(special_care_embeds_.data<float>(), special_care_embeds_.dim(0), P);
    auto cosines = [&](int64_t b, const std::vector<float>& e, int64_t k) {
        std::vector<float> out(static_cast<size_t>(k));
        for (int64_t j = 0; j < k; ++j) {
            float s = 0;
            for (int64_t c = 0; c < P; ++c) s += img[static_cast<size_t>(b * P + c)] * e[static_cast<size_t>(j * P + c)];
            out[static_cast<size_t>(j)] = s;
        }
        return out;
    };
    std::vector<SafetyVerdict> out;
    for (int64_t b = 0; b < n; ++b) {
        SafetyVerdict v;
        v.special_cos_dist = cosines(b, spe, special_care_embeds_.dim(0));
        v.cos_dist = cosines(b, con, concept_embeds_.dim(0));
        for (size_t k = 0; k < v.special_cos_dist.size(); ++k) {
            const double score = numpy_round3(static_cast<double>(v.special_cos_dist[k]) - special_weights_[k] + v.adjustment);
            v.special_scores.push_back(score);
            if (score > 0) {
                v.special_care = true;
                v.adjustment = kSpecialCareAdjustment;
            }
        }
        for (size_t k = 0; k < v.cos_dist.size(); ++k) {
            const double score = numpy_round3(static_cast<double>(v.cos_dist[k]) - concept_weights_[k] + v.adjustment);
            v.concept_scores.push_back(score);
            v.nsfw = v.nsfw || score > 0;
        }
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<SafetyVerdict> SafetyChecker::check(const std::vector<Image>& pictures, Arena& arena) const {
    return verdicts(vision_->forward(preprocess(pictures), arena).image_embeds);
}

}  // namespace difu
