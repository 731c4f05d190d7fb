#include "models/clip_vision.h"

#include <cmath>

#include "core/error.h"
#include "kernels/layer_norm.h"

namespace difu {

namespace {
constexpr int64_t kReleasedHeadWidth = 64;  // ViT-B/L/H: 64-wide heads
}

ClipVisionModel::ClipVisionModel(const Checkpoint& ck, const std::string& tower, const std::string& projection, int heads) {
    const Weights w(ck, tower, Precision::FP32);
    const std::string& p = tower;
    const Tensor& patch = ck.get(p + "embeddings.patch_embedding.weight");
    if (patch.ndim() != 4 || patch.dim(1) != 3 || patch.dim(2) != patch.dim(3))
        throw Error::at(ck.path, "{}embeddings.patch_embedding.weight has shape {}, expected [width, 3, p, p]", p,
                        shape_str(patch.shape()));
    cfg_.width = patch.dim(0);
    cfg_.patch = patch.dim(2);
    const Tensor& pos = ck.get(p + "embeddings.position_embedding.weight");
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(pos.dim(0) - 1))));
    if (pos.ndim() != 2 || side * side + 1 != pos.dim(0))
        throw Error::at(ck.path, "position embedding {} is not a square grid of patches plus the class token", shape_str(pos.shape()));
    cfg_.image_size = side * cfg_.patch;
    while (ck.has(p + "encoder.layers." + std::to_string(cfg_.layers) + ".layer_norm1.weight")) ++cfg_.layers;
    if (cfg_.layers == 0) throw Error::at(ck.path, "no {}encoder.layers.0", p);
    cfg_.intermediate = ck.get(p + "encoder.layers.0.mlp.fc1.weight").dim(0);
    cfg_.projection = ck.get(projection + ".weight").dim(0);
    cfg_.heads = heads > 0 ? heads : static_cast<int>(std::max<int64_t>(1, cfg_.width / kReleasedHeadWidth));
    if (cfg_.width % cfg_.heads != 0) throw Error::at(ck.path, "{} heads do not divide the width {}", cfg_.heads, cfg_.width);
    const int64_t W = cfg_.width, K = 3 * cfg_.patch * cfg_.patch;
    patch_embedding_ = Linear(w.f32("embeddings.patch_embedding.weight", {W, 3, cfg_.patch, cfg_.patch}).contiguous().reshape({W, K}),
                              Tensor());
    class_embedding_ = w.f32("embeddings.class_embedding", {W}).clone();
    position_embedding_ = w.f32("embeddings.position_embedding.weight", {cfg_.positions(), W}).clone();
    pre_layrnorm_ = w.norm("pre_layrnorm", W);  // sic: HF's spelling
    post_layernorm_ = w.norm("post_layernorm", W);
    for (int64_t i = 0; i < cfg_.layers; ++i) layers_.push_back(load_hf_clip_layer(w.sub("encoder.layers").sub(static_cast<int>(i)), W, cfg_.intermediate));
    visual_projection_ = Weights(ck, "", Precision::FP32).linear(projection, cfg_.projection, W, /*bias=*/false);
}

ClipVisionOutput ClipVisionModel::forward(const Tensor& pixels_in, Arena& arena) const {
    const int64_t S = cfg_.image_size, p = cfg_.patch, W = cfg_.width, L = cfg_.positions(), grid = S / p;
    if (pixels_in.ndim() != 4 || pixels_in.dim(1) != 3 || pixels_in.dim(2) != S || pixels_in.dim(3) != S)
        throw Error::make("the CLIP vision tower takes [N, 3, {0}, {0}] pixels, got {1}", S, shape_str(pixels_in.shape()));
    const Tensor pixels = pixels_in.contiguous();
    const int64_t n = pixels.dim(0), K = 3 * p * p;
    // Patches as rows of (c, y, x), the conv weight's order; row-major over the grid.
    Tensor patches = arena.alloc({n * grid * grid, K});
    float* pp = patches.mutable_data<float>();
    const float* px = pixels.data<float>();
    for (int64_t b = 0; b < n; ++b)
        for (int64_t gy = 0; gy < grid; ++gy)
            for (int64_t gx = 0; gx < grid; ++gx) {
                float* row = pp + ((b * grid + gy) * grid + gx) * K;
                for (int64_t c = 0; c < 3; ++c)
                    for (int64_t y = 0; y < p; ++y)
                        for (int64_t x = 0; x < p; ++x) *row++ = px[((b * 3 + c) * S + gy * p + y) * S + gx * p + x];
            }
    const Tensor embedded = patch_embedding_.forward(patches, arena);  // [n * grid², W]
    Tensor x = Tensor::empty({n * L, W});
    float* xp = x.mutable_data<float>();
    const float* pos = position_embedding_.data<float>();
    for (int64_t b = 0; b < n; ++b)
        for (int64_t t = 0; t < L; ++t) {
            const float* src = t == 0 ? class_embedding_.data<float>() : embedded.data<float>() + (b * (L - 1) + t - 1) * W;
            float* dst = xp + (b * L + t) * W;
            for (int64_t c = 0; c < W; ++c) dst[c] = src[c] + pos[t * W + c];
        }
    layer_norm(xp, xp, n * L, W, pre_layrnorm_.weight.data<float>(), pre_layrnorm_.bias.data<float>());
    const Arena::Mark scratch = arena.mark();
    for (const ClipEncoderLayer& layer : layers_) {
        clip_layer_forward(layer, {n, L, W, cfg_.heads, /*quick_gelu=*/true, /*causal=*/false}, x, arena);
        arena.rewind(scratch);
    }
    ClipVisionOutput out;
    out.last_hidden_state = x.reshape({n, L, W});
    out.pooled = Tensor::empty({n, W});
    for (int64_t b = 0; b < n; ++b)
        layer_norm(xp + b * L * W, out.pooled.mutable_data<float>() + b * W, 1, W, post_layernorm_.weight.data<float>(),
                   post_layernorm_.bias.data<float>());
    out.image_embeds = visual_projection_.forward(out.pooled, arena).clone();
    return out;
}

}  // namespace difu
