// io/model_config.h — what a checkpoint is (family) and its hyper-parameters, as the original
// LDM configs (v1-inference.yaml, ...) name them. Inferred from tensor shapes (io/model_detect.cpp),
// optionally overridden by a sidecar <checkpoint>.yaml (io/ldm_yaml.cpp).
#pragma once
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace difu {

enum class ModelFamily { SD1, SD2, SDXL, SDXLRefiner, Unknown };
enum class Prediction { Eps, V };

std::string_view family_name(ModelFamily f);  // "SD 1.x", ...

// openaimodel.UNetModel
struct UNetConfig {
    int in_channels = 4;     // 9 for inpainting (latent + mask + masked latent), 8 for instruct-pix2pix
    int out_channels = 4;
    int model_channels = 320;
    std::vector<int> channel_mult;          // per level, e.g. {1, 2, 4, 4}
    int num_res_blocks = 2;
    std::vector<int> transformer_depth;     // per level; 0 = no SpatialTransformer at that level
    int middle_transformer_depth = 1;       // 0 = middle block without attention
    int context_dim = 768;
    int num_heads = 8;                      // SD 1.x convention; -1 when num_head_channels is used
    int num_head_channels = -1;             // SD 2.x / SDXL: 64 channels per head
    bool use_linear_in_transformer = false; // proj_in/proj_out as linear (SD 2.x, SDXL) vs 1x1 conv
    int adm_in_channels = 0;                // SDXL "label_emb" vector conditioning, 0 = none
    // Level l has attention at downsample factor 2^l ("attention_resolutions" of the yaml).
    std::vector<int> attention_resolutions() const;
    int heads_for(int channels) const { return num_head_channels > 0 ? channels / num_head_channels : num_heads; }
};

// ldm.models.autoencoder.AutoencoderKL (ddconfig)
struct VaeConfig {
    int in_channels = 3;
    int out_ch = 3;
    int ch = 128;
    std::vector<int> ch_mult;  // {1, 2, 4, 4}
    int num_res_blocks = 2;
    int z_channels = 4;
    int embed_dim = 4;
    float scale_factor = 0.18215f;
};

// CLIP text transformer, and which of its hidden states becomes the UNet's context. SD 1.x: openai
// CLIP ViT-L/14 under HF names; SD 2.x: OpenCLIP ViT-H/14 under OpenCLIP names.
struct TextConfig {
    std::string prefix = "cond_stage_model.transformer.text_model.";  // its tensors in the checkpoint
    enum class Naming { HuggingFace, OpenClip } naming = Naming::HuggingFace;
    int vocab_size = 49408;
    int width = 768;
    int layers = 12;
    int heads = 12;          // width / 64 (CLIP convention: 64 channels per head)
    int intermediate = 3072;
    int context_length = 77;
    bool quick_gelu = true;  // openai CLIP; OpenCLIP ViT-H uses exact gelu
    // Token ids after a chunk's end token: 49407 (SD 1.x's HF tokenizer pads with the end token) or 0
    // (open_clip.tokenize; webui's id_pad for OpenCLIP).
    int pad_token = 49407;
    // The hidden state used, counted from the end: 1 = the last layer's output, 2 = the penultimate
    // (FrozenOpenCLIPEmbedder layer="penultimate"), then the final LayerNorm when `final_norm`.
    int layer = 1;
    bool final_norm = true;
    // Whether the user's clip skip replaces `layer` (webui: SD 1.x's CLIP; its OpenCLIP wrapper keeps
    // the penultimate layer whatever the setting).
    bool clip_skip_applies = true;
    // Width of the pooled output (the end token's final-normed last-layer state through text_projection,
    // [width, pooled_dim]); 0 = the encoder gives none (SDXL's OpenCLIP bigG gives one).
    int pooled_dim = 0;
    // The layer counted from the end for a user's clip skip setting.
    int layer_for(int clip_skip) const { return clip_skip_applies ? clip_skip : layer; }
};

// Diffusion schedule (ddpm.py register_schedule).
struct ScheduleConfig {
    int timesteps = 1000;
    double linear_start = 0.00085;
    double linear_end = 0.012;
    Prediction prediction = Prediction::Eps;
    bool prediction_known = true;  // false: the keys cannot tell eps from v (SD 2.x 512 vs 768-v)
};

struct ModelConfig {
    ModelFamily family = ModelFamily::Unknown;
    std::string variant;  // "" (txt2img), "inpainting", "instruct-pix2pix"
    std::string unet_prefix = "model.diffusion_model.";
    std::string vae_prefix = "first_stage_model.";
    UNetConfig unet;
    VaeConfig vae;
    // In the order the conditioner concatenates their outputs along the channels (SDXL: CLIP-L, bigG).
    std::vector<TextConfig> text_encoders{TextConfig{}};
    const TextConfig& text() const { return text_encoders.front(); }
    TextConfig& text() { return text_encoders.front(); }
    int pooled_dim() const;  // the text encoders' pooled outputs together (SDXL: bigG's 1280), 0 for none
    ScheduleConfig schedule;
    std::string config_source = "inferred from tensor shapes";  // or the sidecar yaml's path
    // Why this is the family's Turbo release ("its file name", "its modelspec.title"); "" = it is not.
    std::string turbo_evidence;
    bool turbo() const { return !turbo_evidence.empty(); }

    // What webui and the original scripts default to for this model: 512 (SD 1.x, SD 2.x eps, Turbo),
    // 768 (SD 2.x v), 1024 (SDXL). `prediction` when the config cannot tell (SD 2.x without a yaml).
    int default_size(Prediction prediction) const;
    int default_size() const { return default_size(schedule.prediction); }
    // "SD 2.x 768-v inpainting", "SDXL-Turbo": the family with its variant, as `difu inspect` names it.
    std::string display_name() const;

    // Whether difu can generate with this model today; when not, why not.
    bool supported() const { return unsupported_reason().empty(); }
    std::string unsupported_reason() const;
};

// Detects the family and infers every hyper-parameter from the tensors, then applies the sidecar
// `<checkpoint path minus extension>.yaml` if it exists. Throws Error for a file that is not a
// Stable Diffusion checkpoint (naming what is missing).
ModelConfig detect_model(const Checkpoint& ck);
ModelConfig infer_config(const Checkpoint& ck);  // without the sidecar

// One tensor the model's code looks up: full checkpoint name and shape.
struct TensorSpec {
    std::string name;
    Shape shape;
    bool required = true;  // false for buffers that some checkpoints leave out (position_ids, ...)
};
// The complete key layout of a checkpoint with this configuration (what make-random writes).
std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg);

// Compares a checkpoint's keys with the expected layout.
struct KeyReport {
    std::vector<std::string> missing;         // expected, not in the file
    std::vector<std::string> wrong_shape;     // "name: file [..], expected [..]"
    std::vector<std::string> unknown;         // in the file, used by nothing
    size_t ignored = 0;                       // known but unused (EMA copies, training buffers)
    size_t used = 0;
    bool complete() const { return missing.empty() && wrong_shape.empty(); }
};
KeyReport check_keys(const Checkpoint& ck, const ModelConfig& cfg);

}  // namespace difu
