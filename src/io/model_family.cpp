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
constexpr TextEncoderConvention kSD1Clip{"cond_stage_model.transformer.text_model.", Naming::HuggingFace, true,
                                         kEndTokenPadding, kLastLayer, true, true};
// Files written by transformers < 4.x, without the "text_model." level.
constexpr TextEncoderConvention kSD1ClipLegacy{"cond_stage_model.transformer.", Naming::HuggingFace, true,
                                               kEndTokenPadding, kLastLayer, true, true};
// FrozenOpenCLIPEmbedder(layer="penultimate"): resblocks 0 .. L-2, then ln_final.
constexpr TextEncoderConvention kSD2OpenClip{"cond_stage_model.model.", Naming::OpenClip, false, kOpenClipPadToken,
                                             kPenultimateLayer, true, false};
// sgm: CLIP ViT-L hidden_states[-2] and OpenCLIP bigG "penultimate", neither final-normed.
constexpr TextEncoderConvention kSDXLClipL{"conditioner.embedders.0.transformer.text_model.", Naming::HuggingFace,
                                           true, kEndTokenPadding, kPenultimateLayer, false, false};
constexpr TextEncoderConvention kSDXLOpenClipG{"conditioner.embedders.1.model.", Naming::OpenClip, false,
                                               kOpenClipPadToken, kPenultimateLayer, false, false};
constexpr TextEncoderConvention kRefinerOpenClipG{"conditioner.embedders.0.model.", Naming::OpenClip, false,
                                                  kOpenClipPadToken, kPenultimateLayer, false, false};

constexpr TextEncoderConvention kSD1Encoders[] = {kSD1Clip};
constexpr TextEncoderConvention kSD1LegacyEncoders[] = {kSD1ClipLegacy};
constexpr TextEncoderConvention kSD2Encoders[] = {kSD2OpenClip};
constexpr TextEncoderConvention kSDXLEncoders[] = {kSDXLClipL, kSDXLOpenClipG};
constexpr TextEncoderConvention kRefinerEncoders[] = {kRefinerOpenClipG};

const FamilyDescription kFamilies[] = {
    {ModelFamily::SD1, "SD 1.x", "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
     kSD1Encoders, kSD1UNetHeads, -1, kScaleFactorSD, 512, 512, true, true, true},
    {ModelFamily::SD1, "SD 1.x", "cond_stage_model.transformer.embeddings.token_embedding.weight",
     kSD1LegacyEncoders, kSD1UNetHeads, -1, kScaleFactorSD, 512, 512, true, true, true},
    {ModelFamily::SD2, "SD 2.x", "cond_stage_model.model.token_embedding.weight", kSD2Encoders, -1, kHeadChannels64,
     kScaleFactorSD, 512, 768, false, true, false},
    {ModelFamily::SDXL, "SDXL", "conditioner.embedders.1.model.token_embedding.weight", kSDXLEncoders, -1,
     kHeadChannels64, kScaleFactorSDXL, 1024, 1024, true, false, false},
    {ModelFamily::SDXLRefiner, "SDXL refiner", "conditioner.embedders.0.model.token_embedding.weight",
     kRefinerEncoders, -1, kHeadChannels64, kScaleFactorSDXL, 1024, 1024, true, false, false},
};

}  // namespace

TextConfig text_config(const TextEncoderConvention& c) {
    TextConfig t;
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
    cfg.text_prefix = std::string(f.text_encoders.front().prefix);
    cfg.text = text_config(f.text_encoders.front());
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
