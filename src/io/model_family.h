// io/model_family.h — what makes each Stable Diffusion family what it is, as data: where its parts live
// in a single-file checkpoint, which text encoder it uses and which of its layers becomes the UNet's
// context, the UNet's head convention, the VAE's scale factor, its default size, whether its keys tell
// eps from v. Detection (io/model_detect.cpp) reads the checkpoint against these descriptions; adding a
// family is adding a description (and its model parts), not an `if` in the pipeline or the front ends.
#pragma once
#include <span>
#include <string_view>

#include "io/model_config.h"

namespace difu {

// A text encoder a family conditions on.
struct TextEncoderConvention {
    std::string_view prefix;          // "cond_stage_model.transformer.text_model."
    TextConfig::Naming naming;
    bool quick_gelu;                  // openai CLIP: x sigmoid(1.702 x); OpenCLIP: exact erf GELU
    int pad_token;                    // see TextConfig::pad_token
    int layer;                        // hidden state from the end: 1 last, 2 penultimate
    bool final_norm;
    bool clip_skip_applies;
    bool pooled;                      // gives a pooled output through text_projection (SDXL bigG)
    // Its diffusers folder, and how many of its last layers diffusers leaves out (SD 2.x: 1, the layer
    // FrozenOpenCLIPEmbedder never reads; diffusers' pipeline then reads the new last one).
    std::string_view diffusers_folder = "text_encoder";
    int diffusers_dropped_layers = 0;
};

// How a family builds the UNet's vector conditioning y (label_emb's input), sgm's embedders after the text.
enum class VectorConditioning {
    None,
    PooledAndSizes,      // SDXL base: pooled, emb(original h, w), emb(crop top, left), emb(target h, w)
    PooledAndAesthetic,  // SDXL refiner: pooled, emb(original h, w), emb(crop top, left), emb(aesthetic score)
};

// sgm's ConcatTimestepEmbedderND(outdim=256) over SDXL base's six size values (original h, w; crop
// top, left; target h, w).
inline constexpr int kSizeEmbeddingDim = 256;
inline constexpr int kSdxlSizeValues = 6;
inline constexpr int kRefinerSizeValues = 5;

// SD-Turbo / SDXL-Turbo (ADD): trained at 512², sampled in 1-4 steps without classifier-free guidance
// (Stability's model cards: 1 step, guidance 0; cfg 1 is the same image here, the unconditional pass skipped).
inline constexpr int kTurboDefaultSize = 512;
inline constexpr int kTurboSteps = 1;
inline constexpr float kTurboCfgScale = 1.0f;  // ... and the refiner's original h, w; crop top, left; aesthetic score

struct FamilyDescription {
    ModelFamily family;
    std::string_view name;                       // "SD 1.x"
    std::string_view identifying_key;            // a tensor only this family's files have
    // Its text encoders, in the order the conditioner concatenates them (difu runs the first today;
    // SDXL's second comes with SDXL support).
    std::span<const TextEncoderConvention> text_encoders;
    int unet_num_heads;                          // fixed head count (SD 1.x: 8), or -1
    int unet_head_channels;                      // channels per head (SD 2.x, SDXL: 64), or -1
    float vae_scale_factor;
    int default_size_eps, default_size_v;        // webui's / the original scripts' default sides
    bool prediction_from_keys;                   // false: SD 2.x 512-base (eps) and 768 (v) share keys
    bool supported;                              // difu generates with it today
    bool ema_counters;                           // released files carry model_ema.decay / num_updates
    bool schedule_buffers;                       // ... and DDPM's betas, alphas_cumprod, ... (not SDXL's)
    VectorConditioning vector = VectorConditioning::None;
    // An empty negative prompt conditions on zeros instead of the empty prompt's encoding (sgm's
    // force_uc_zero_embeddings=["txt"], which webui follows for SDXL): text context and pooled part.
    bool zero_empty_negative = false;
    // Its adversarially distilled release with the same keys ("SDXL-Turbo"; "" = none): told apart only by
    // the file's name or modelspec metadata, and run with kTurbo* defaults.
    std::string_view turbo_name = "";
    // diffusers' pipeline class for its folders, and for its inpainting UNets ("" = none).
    std::string_view diffusers_pipeline = "StableDiffusionPipeline";
    std::string_view diffusers_inpaint_pipeline = "StableDiffusionInpaintPipeline";
    // webui's "Approx cheap" live preview (sd_vae_approx.cheap_approximation): RGB = latent channels ·
    // these [4][3] factors, then (x + 1) / 2.
    std::span<const std::array<float, 3>> preview_rgb = {};
};

// A text config carrying the convention's choices (naming, activation, pad token, layer, final norm,
// clip skip); the shapes are left for the caller (inferred from a file, or an architecture's).
TextConfig text_config(const TextEncoderConvention& c);

// A config with everything the family fixes (text convention and prefix, UNet head convention, VAE
// scale, whether eps / v is known); shapes at their defaults (SD 1.5's) for the caller to set.
ModelConfig family_config(const FamilyDescription& family);

// Every family difu recognises, in detection order.
std::span<const FamilyDescription> model_families();
const FamilyDescription& describe(ModelFamily family);

}  // namespace difu
