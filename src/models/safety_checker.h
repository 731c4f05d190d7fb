// models/safety_checker.h — the SD release's safety checker (CompVis/stable-diffusion-safety-checker,
// diffusers StableDiffusionSafetyChecker.forward): a CLIP vision tower's image embedding compared by
// cosine with 17 concept and 3 special-care embeddings, each with its threshold:
//   adjustment = 0; for each special concept k: s = round(cos_s[k] - w_s[k] + adjustment, 3);
//                   s > 0 -> special care, adjustment = 0.01 (for the later special concepts too)
//   for each concept k: c = round(cos[k] - w[k] + adjustment, 3); any c > 0 -> flagged
// cos in float32; the differences and numpy's round (x · 1000, half to even, / 1000) in float64.
// Pictures reach the tower as transformers' CLIPFeatureExtractor makes them: the short side resized
// to 224 (Pillow bicubic; untouched when already 224, the long side int(224 · long / short)), the centre
// 224 x 224 cropped ((h - 224) // 2), u8 / 255 and (x - mean) / std in float32.
#pragma once
#include <string>
#include <vector>

#include "io/image.h"
#include "models/clip_vision.h"

namespace difu {

struct SafetyVerdict {
    bool nsfw = false;
    bool special_care = false;
    double adjustment = 0;
    std::vector<double> concept_scores, special_scores;  // rounded, as forward() reports them
    std::vector<float> cos_dist, special_cos_dist;        // float32 cosines
};

// CLIPFeatureExtractor's steps (exposed for tests).
Image clip_resize_short_side(const Image& rgb, int size);
Image clip_center_crop(const Image& rgb, int size);
Tensor clip_pixel_values(const std::vector<Image>& cropped);  // [N, 3, S, S], normalised with CLIP's mean / std

class SafetyChecker {
public:
    // A .safetensors / .bin file, or the released folder (model.safetensors or pytorch_model.bin, with its
    // config.json giving the head count). Throws Error naming the file for anything else.
    explicit SafetyChecker(const std::string& path);
    const std::string& path() const { return path_; }
    const ClipVisionModel& vision() const { return *vision_; }

    Tensor preprocess(const std::vector<Image>& pictures) const;  // what the tower sees
    std::vector<SafetyVerdict> check(const std::vector<Image>& pictures, Arena& arena) const;
    std::vector<SafetyVerdict> verdicts(const Tensor& image_embeds) const;  // the decision alone

private:
    std::string path_;
    Checkpoint ck_;
    std::unique_ptr<ClipVisionModel> vision_;
    Tensor concept_embeds_, special_care_embeds_;            // [17, P], [3, P]
    std::vector<float> concept_weights_, special_weights_;  // thresholds
};

}  // namespace difu
