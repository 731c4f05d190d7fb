// io/model_family.cpp — the family descriptions. Sources: CompVis v1-inference.yaml (SD 1.x),
// Stability-AI/stablediffusion v2-inference(-v).yaml and FrozenOpenCLIPEmbedder (SD 2.x), sgm's
// sd_xl_base.yaml / sd_xl_refiner.yaml (SDXL), webui's sd_hijack_clip / sd_hijack_open_clip (pad
// tokens, clip skip).
#include "io/model_family.h"

namespace difu {
namespace {

using Naming = TextConfig::Naming;

constexpr int kEndTokenPadding = 49407; // SD 1.x's HF tokenizer pads with <|endoftext|>
constexpr int kOpenClipPadToken = 0;   // open_clip.tokenize pads with 0
constexpr int kLastLayer = 1, kPenultimateLayer = 2;
constexpr int kSD1UNetHeads = 8;       // v1-inference.yaml: num_heads 8 at every level
constexpr int kHeadChannels64 = 64;    // SD 2.x / SDXL: num_head_channels 64
constexpr float kScaleFactorSD = 0.18215f;
constexpr float kScaleFactorSDXL = 0.13025f;

// FrozenCLIPEmbedder: last layer + final norm; webui's clip skip picks an earlier one.
constexpr TextEncoderConvention kSD1Clip{.prefix = "cond_stage_model.transformer.text_model.",
                                         .naming = Naming::HuggingFace, .quick_gelu = true,
                                         .pad_token = kEndTokenPadding, .layer = kLastLayer, .final_norm = true,
                                         .clip_skip_applies = true, .pooled = false};
// Files written by transformers < 4.x, without the "text_model." level.
constexpr TextEncoderConvention kSD1ClipLegacy{.prefix = "cond_stage_model.transformer.",
                                               .naming = Naming::HuggingFace, .quick_gelu = true,
                                               .pad_token = kEndTokenPadding, .layer = kLastLayer, .final_norm = true,
                                               .clip_skip_applies = true, .pooled = false};
// FrozenOpenCLIPEmbedder(layer="penultimate"): resblocks 0 .. L-2, then ln_final.
constexpr TextEncoderConvention kSD2OpenClip{.prefix = "cond_stage_model.model.", .naming = Naming::OpenClip,
                                             .quick_gelu = false, .pad_token = kOpenClipPadToken,
                                             .layer = kPenultimateLayer, .final_norm = true,
                                             .clip_skip_applies = false, .pooled = false,
                                             .diffusers_dropped_layers = 1};
// sgm: CLIP ViT-L hidden_states[-2] and OpenCLIP bigG "penultimate", neither final-normed; bigG also
// pools (ln_final of the last layer at the end token, through text_projection).
constexpr TextEncoderConvention kSDXLClipL{.prefix = "conditioner.embedders.0.transformer.text_model.",
                                           .naming = Naming::HuggingFace, .quick_gelu = true,
                                           .pad_token = kEndTokenPadding, .layer = kPenultimateLayer,
                                           .final_norm = false, .clip_skip_applies = false, .pooled = false};
constexpr TextEncoderConvention kSDXLOpenClipG{.prefix = "conditioner.embedders.1.model.", .naming = Naming::OpenClip,
                                               .quick_gelu = false, .pad_token = kOpenClipPadToken,
                                               .layer = kPenultimateLayer, .final_norm = false,
                                               .clip_skip_applies = false, .pooled = true,
                                               .diffusers_folder = "text_encoder_2"};
constexpr TextEncoderConvention kRefinerOpenClipG{.prefix = "conditioner.embedders.0.model.",
                                                  .naming = Naming::OpenClip, .quick_gelu = false,
                                                  .pad_token = kOpenClipPadToken, .layer = kPenultimateLayer,
                                                  .final_norm = false, .clip_skip_applies = false, .pooled = true,
                                                  .diffusers_folder = "text_encoder_2"};

constexpr TextEncoderConvention kSD1Encoders[] = {kSD1Clip};
constexpr TextEncoderConvention kSD1LegacyEncoders[] = {kSD1ClipLegacy};
constexpr TextEncoderConvention kSD2Encoders[] = {kSD2OpenClip};
constexpr TextEncoderConvention kSDXLEncoders[] = {kSDXLClipL, kSDXLOpenClipG};
constexpr TextEncoderConvention kRefinerEncoders[] = {kRefinerOpenClipG};

constexpr int kSide512 = 512, kSide768 = 768, kSide1024 = 1024;

// webui's cheap_approximation factors (from the latent-to-RGB fit of huggingface.co discussion 23204).
constexpr std::array<float, 3> kSDPreviewRgb[] = {
    {0.298f, 0.207f, 0.208f}, {0.187f, 0.286f, 0.173f}, {-0.158f, 0.189f, 0.264f}, {-0.184f, -0.271f, -0.473f}};
constexpr std::array<float, 3> kSDXLPreviewRgb[] = {
    {0.3448f, 0.4168f, 0.4395f}, {-0.1953f, -0.0290f, 0.0250f}, {0.1074f, 0.0886f, -0.0163f}, {-0.3730f, -0.2499f, -0.2088f}};

const FamilyDescription kFamilies[] = {
    {.family = ModelFamily::SD1, .name = "SD 1.x",
     .identifying_key = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
     .text_encoders = kSD1Encoders, .unet_num_heads = kSD1UNetHeads, .unet_head_channels = -1,
     .vae_scale_factor = kScaleFactorSD, .default_size_eps = kSide512, .default_size_v = kSide512,
     .prediction_from_keys = true, .supported = true, .ema_counters = true, .schedule_buffers = true,
     .preview_rgb = kSDPreviewRgb},
    {.family = ModelFamily::SD1, .name = "SD 1.x",
     .identifying_key = "cond_stage_model.transformer.embeddings.token_embedding.weight",
     .text_encoders = kSD1LegacyEncoders, .unet_num_heads = kSD1UNetHeads, .unet_head_channels = -1,
     .vae_scale_factor = kScaleFactorSD, .default_size_eps = kSide512, .default_size_v = kSide512,
     .prediction_from_keys = true, .supported = true, .ema_counters = true, .schedule_buffers = true,
     .preview_rgb = kSDPreviewRgb},
    {.family = ModelFamily::SD2, .name = "SD 2.x", .identifying_key = "cond_stage_model.model.token_embedding.weight",
     .text_encoders = kSD2Encoders, .unet_num_heads = -1, .unet_head_channels = kHeadChannels64,
     .vae_scale_factor = kScaleFactorSD, .default_size_eps = kSide512, .default_size_v = kSide768,
     .prediction_from_keys = false, .supported = true, .ema_counters = false, .schedule_buffers = true,
     .turbo_name = "SD-Turbo", .preview_rgb = kSDPreviewRgb},
    {.family = ModelFamily::SDXL, .name = "SDXL",
     .identifying_key = "conditioner.embedders.1.model.token_embedding.weight", .text_encoders = kSDXLEncoders,
     .unet_num_heads = -1, .unet_head_channels = kHeadChannels64, .vae_scale_factor = kScaleFactorSDXL,
     .default_size_eps = kSide1024, .default_size_v = kSide1024, .prediction_from_keys = true, .supported = true,
     .ema_counters = false, .schedule_buffers = false, .vector = VectorConditioning::PooledAndSizes,
     .zero_empty_negative = true, .turbo_name = "SDXL-Turbo", .diffusers_pipeline = "StableDiffusionXLPipeline",
     .diffusers_inpaint_pipeline = "StableDiffusionXLInpaintPipeline", .preview_rgb = kSDXLPreviewRgb},
    {.family = ModelFamily::SDXLRefiner, .name = "SDXL refiner",
     .identifying_key = "conditioner.embedders.0.model.token_embedding.weight", .text_encoders = kRefinerEncoders,
     .unet_num_heads = -1, .unet_head_channels = kHeadChannels64, .vae_scale_factor = kScaleFactorSDXL,
     .default_size_eps = kSide1024, .default_size_v = kSide1024, .prediction_from_keys = true, .supported = true,
     .ema_counters = false, .schedule_buffers = false, .vector = VectorConditioning::PooledAndAesthetic,
     .zero_empty_negative = true, .diffusers_pipeline = "StableDiffusionXLImg2ImgPipeline",
     .diffusers_inpaint_pipeline = "", .preview_rgb = kSDXLPreviewRgb},
};

}  // namespace

TextConfig text_config(const TextEncoderConvention& c) {
    TextConfig t;
    t.prefix = std::string(c.prefix);
    t.naming = c.naming;
    t.quick_gelu = c.quick_gelu;
    t.pad_token = c.pad_token;
    t.layer = c.layer;
    t.final_norm = c.final_norm;
    t.clip_skip_applies = c.clip_skip_applies;
    return t;
}

ModelConfig family_config(const FamilyDescription& f) {
    ModelConfig cfg;
    cfg.family = f.family;
    cfg.text_encoders.clear();
    for (const TextEncoderConvention& c : f.text_encoders) cfg.text_encoders.push_back(text_config(c));
    cfg.unet.num_heads = f.unet_num_heads;
    cfg.unet.num_head_channels = f.unet_head_channels;
    cfg.vae.scale_factor = f.vae_scale_factor;
    cfg.schedule.prediction_known = f.prediction_from_keys;
    return cfg;
}

std::span<const FamilyDescription> model_families() { return kFamilies; }

const FamilyDescription& describe(ModelFamily family) {
    for (const auto& f : kFamilies)
        if (f.family == family) return f;
    throw Error::make("no description for model family {}", static_cast<int>(family));
}

}  // namespace difu
