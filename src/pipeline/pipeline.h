// pipeline/pipeline.h — a loaded Stable Diffusion model (any family of io/model_family) and the
// txt2img / img2img flow:
//   prompt, negative -> context (+ SDXL's vector y)             pipeline/conditioning, vector_conditioning
//   inpainting UNets: + [mask, masked-image latent]             pipeline/image_conditioning
//   seed -> torch CPU randn [B, 4, H/8, W/8]                    core/torch_rng (ComfyUI's convention)
//   noise (x sigma_0 for k-diffusion) -> sampler with CFG       sampling/, pipeline/guidance
//   (a refiner takes over the same sampler run at switch_at)  pipeline/refiner
//   latent / scale_factor -> VAE decode -> clamp((x+1)/2) -> u8 models/vae, io/image (the VAE of the model
//                                                               that finished the run)
// The CLI and the server both call DiffusionPipeline::generate with a GenerateRequest.
#pragma once
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/image.h"
#include "kernels/precision.h"
#include "models/text_encoders.h"
#include "models/unet/unet.h"
#include "models/vae/tiled_vae.h"
#include "core/torch_rng.h"
#include "pipeline/guidance.h"
#include "pipeline/scheduled_conditioning.h"
#include "pipeline/textual_inversion.h"
#include "pipeline/request.h"
#include "sampling/sampler_names.h"
#include "sampling/schedule.h"
#include "text/clip_tokenizer.h"

namespace difu {

struct ProgressInfo {
    std::string phase;  // "text", "sampling", "decode"
    int step = 0, steps = 0;        // sampling steps of the current batch
    int batch = 0, batches = 0;     // batch index (batch count)
    const Tensor* denoised = nullptr;  // sampling: the step's denoised estimate [B, 4, h, w] (live previews)
};
// Called during a generation; returning false cancels it (generate() then throws Cancelled).
using ProgressFn = std::function<bool(const ProgressInfo&)>;

struct GeneratedImage {
    Image image;
    // CPU rng: the seed of its batch (its noise is randn(batch shape) from this seed); GPU rng: its own.
    int64_t seed = 0;
    int batch_pos = 0;    // position inside the batch
    std::string infotext; // webui's "parameters" text
    int64_t subseed = 0;  // its variation seed (webui's all_subseeds entry): the request's + its index
    bool nsfw = false;    // flagged by the safety checker (diffusers' nsfw_content_detected); see NsfwAction
};

// What becomes of a picture the safety checker flags: black (diffusers), blurred beyond recognition, or
// kept and only reported.
enum class NsfwAction { Black, Blur, FlagOnly };
NsfwAction parse_nsfw_action(const std::string& name);  // "black", "blur", "flag-only"

struct PhaseTimes {
    double text = 0, sampling = 0, decode = 0;  // seconds, summed over batches
    double build = 0;  // building models inside generate() (ModelResidency::OneAtATime), not in the phases
};

// Which models a pipeline holds between phases.
enum class ModelResidency {
    // All three built at load and kept: a server answering request after request.
    AllModels,
    // Each built when its phase starts and released when the next phase needs another: a one-shot
    // run peaks at its largest component (the UNet) instead of the sum, and still builds each once.
    OneAtATime,
};

struct GenerateResult {
    std::vector<GeneratedImage> images;
    int64_t seed = 0;  // the first batch's seed (the resolved one when the request asked for -1)
    PhaseTimes times;
    std::vector<std::string> lora_unmatched;  // "file: module" of the request's LoRAs that match no module
};

// The prompt and negative prompt over the steps (prompt editing), and an empty chunk for padding.
struct PromptConditioning {
    ScheduledConditioning cond, uncond;
    Tensor empty_chunk;
};

// What one model brings to a sampler run beside its UNet: the prompts as its text encoders read them
// and, for an inpainting UNet, its image conditioning.
struct ModelInputs {
    PromptConditioning prompts;
    Tensor image_conditioning;
};

class DiffusionPipeline {
public:
    // Loads and checks the checkpoint (family, every key); with AllModels also builds the three models.
    DiffusionPipeline(const std::string& checkpoint_path, Precision precision,
                      ModelResidency residency = ModelResidency::AllModels);

    GenerateResult generate(const GenerateRequest& request, const ProgressFn& progress = nullptr);

    // The model that finishes the runs whose request sets refiner_switch_at (webui's refiner). It must
    // share this model's latent space (the same latent channels); throws Error naming it otherwise.
    void set_refiner(std::shared_ptr<DiffusionPipeline> refiner);
    DiffusionPipeline* refiner() const { return refiner_.get(); }
    // A VAE file used instead of the checkpoint's own (webui's sd_vae; io/external_vae.h); "" = the
    // checkpoint's. Throws Error naming the file when it does not fit.
    void set_vae(const std::string& path);
    const std::string& vae_path() const { return vae_path_; }
    // TAESD files (models/taesd) that requests with VaeMethod::Taesd decode / encode with; "" = none.
    // Throws Error naming the file when it is no TAESD of that part.
    void set_taesd(const std::string& decoder_path, const std::string& encoder_path = "");
    const std::string& vae_hash() const { return vae_hash_; }
    // When the VAE decodes and encodes in tiles (models/vae/tiled_vae.h); by default past 4 GiB of scratch.
    void set_vae_tiling(const VaeTilingPolicy& policy) { vae_tiling_ = policy; }
    // The dwtDct watermark (pipeline/watermark_dwtdct.h) every output picture carries, as payload bits;
    // empty = none. A picture below the watermark's 256x256 minimum fails its request.
    void set_watermark(std::vector<uint8_t> bits) { watermark_ = std::move(bits); }
    // The safety checker (models/safety_checker.h) every output picture passes before the watermark.
    void set_safety_checker(std::shared_ptr<const class SafetyChecker> checker, NsfwAction action = NsfwAction::Black) {
        safety_checker_ = std::move(checker);
        nsfw_action_ = action;
    }
    const std::vector<uint8_t>& watermark() const { return watermark_; }
    const VaeTilingPolicy& vae_tiling() const { return vae_tiling_; }  // its SHA-256's first 10 hex digits
    // Textual-inversion embeddings every prompt may name (a library made for this model's encoders).
    void set_embeddings(std::shared_ptr<EmbeddingLibrary> embeddings) { embeddings_ = std::move(embeddings); }
    EmbeddingLibrary* embeddings() const { return embeddings_.get(); }

    const ModelConfig& config() const { return cfg_; }
    // eps or v. When neither the keys nor a sidecar yaml tell (SD 2.x), the first call builds the UNet
    // (if it is not built yet) and probes it as webui does (pipeline/prediction_probe.h).
    Prediction prediction(double* build_seconds = nullptr);
    const std::string& model_path() const { return path_; }
    std::string model_name() const;        // file name without extension, as webui shows it
    const std::string& model_sha256();     // the file's SHA-256 in hex (computed once; thread-safe)
    std::string model_hash();              // its first 10 hex digits: webui's "Model hash"
    Precision precision() const { return precision_; }
    double load_seconds() const { return load_seconds_; }

private:
    // The prompt's context and (SDXL) vector y for an image of the request's size.
    Conditioning encode_text(const TextEncoders& text, const std::string& prompt, const GenerateRequest& r,
                             bool negative, Arena& arena) const;
    // SDXL's unconditional side for an empty negative prompt: zero text context and pooled part, the
    // request's size features.
    Conditioning zero_text(const GenerateRequest& r) const;
    Tensor init_image_tensor(const GenerateRequest& r) const;
    Tensor encode_init_image(const AutoencoderKL& vae, const GenerateRequest& r, Arena& arena) const;
    Tensor fit_init_latent(const Tensor& x, const GenerateRequest& r) const;
    Tensor taesd_init_moments(const GenerateRequest& r) const;
    // A known latent as img2img's posterior moments: mean = latent / scale_factor, logvar = -inf (no
    // variance), so that the start latent, scale_factor · mean, is the latent itself.
    Tensor exact_moments(const Tensor& latent) const;
    Tensor img2img_start_latent(const Tensor& posterior_moments, class BatchNoise& draws) const;
    Tensor sample_unipc_run(const GenerateRequest& r, const SamplerChoice& sc, const Tensor& noise, const Tensor* start,
                            const EpsModel& eps, const StepCallback& cb) const;
    // The prompts through this model's text encoders and (inpainting UNets) its image conditioning, for a
    // request whose size is resolved.
    ModelInputs model_inputs(const GenerateRequest& r, Arena& arena, double* build_seconds);
    // The UNet (built if need be) with guidance, prediction and image conditioning, for a request's run.
    std::unique_ptr<GuidedModel> guided_model(const GenerateRequest& r, const ModelInputs& inputs, Arena& arena,
                                              double* build_seconds);
    struct RefinerRun;  // the refiner's side of one request (pipeline.cpp)
    // One batch's latents: noise from the batch's seed, then the sampler's loop (handed to the refiner at
    // its switch). `persistent` holds what outlives the batch (the refiner's inputs).
    Tensor sample_batch(const GenerateRequest& r, int64_t seed, int batch, int batches, const Tensor* init_latent,
                        const ModelInputs& inputs, RefinerRun* refiner, Arena& persistent, const ProgressFn& progress,
                        double* build_seconds);
    std::vector<Image> decode_batch(const AutoencoderKL& vae, const Tensor& latents, Arena& arena) const;
    std::vector<Image> decode_taesd(const Tensor& latents) const;

public:
    // A live preview of image `index` of a denoised estimate: TAESD when one is loaded, else webui's
    // "Approx cheap" (the family's latent-to-RGB factors, one pixel per latent cell).
    Image preview(const Tensor& denoised, int64_t index = 0) const;

private:
    // The hires fix's second pass (pipeline/pipeline_hires.cpp): its request, and the pass itself.
    static GenerateRequest hires_request(const GenerateRequest& r);
    Tensor hires_pass(const GenerateRequest& r, const GenerateRequest& second, int64_t seed, int batch, const Tensor& latents,
                      Arena& arena, const ProgressFn& progress, double* build);
    std::string infotext(const GenerateRequest& r, int64_t seed, int batch_pos, bool refined);
    // Inpainting's stages (pipeline/pipeline_inpaint.cpp): the mask made webui's and the masked content
    // filled, the infotext's inpainting fields, and "Only masked" as a run on the crop around the mask.
    void prepare_inpainting(GenerateRequest& r) const;
    void inpaint_infotext(const GenerateRequest& r, std::vector<std::pair<std::string, std::string>>& extra) const;
    GenerateResult generate_only_masked(const GenerateRequest& r, const ProgressFn& progress);
    Tensor inpainting_conditionings(const GenerateRequest& r, Arena& arena, double* build);
    // generate() is run_stages() (sampling to the final pictures) then post_process() (the safety
    // checker, then the watermark).
    GenerateResult run_stages(const GenerateRequest& request, const ProgressFn& progress);
    void post_process(GenerateResult& result) const;
    // Width / height left at kModelDefaultSize become the model's default size, then the request is
    // checked again.
    void resolve_default_size(GenerateRequest& r, double* build_seconds);
    // The model for the next phase, built if needed (its build time added to *build_seconds); under
    // OneAtATime the other two are released first.
    const TextEncoders& text_model(double* build_seconds);
    const UNetModel& unet_model(double* build_seconds);
    const AutoencoderKL& vae_model(double* build_seconds);
    void release_all_but(const void* keep);
    // The request's LoRA set: models built with another set are dropped (rebuilt on their next use).
    void use_loras(const std::vector<LoraUse>& loras);
    // What the text encoders and the UNet are built from: the file's tensors, with the LoRA-merged
    // weights in place when a set is in use (merged once per generate(), dropped at its end).
    const Checkpoint& weights();

    std::string path_;
    Precision precision_;
    ModelResidency residency_;
    Checkpoint ck_;
    ModelConfig cfg_;
    std::unique_ptr<TextEncoders> text_encoders_;
    std::unique_ptr<UNetModel> unet_;
    std::unique_ptr<AutoencoderKL> vae_;
    std::unique_ptr<DiscreteSchedule> schedule_;
    std::shared_ptr<DiffusionPipeline> refiner_;
    std::shared_ptr<EmbeddingLibrary> embeddings_;
    std::optional<Checkpoint> external_vae_;  // ck_ with the VAE file's tensors, when one is set
    std::string vae_path_, vae_hash_;
    std::shared_ptr<const class TaesdModel> taesd_decoder_, taesd_encoder_;
    VaeTilingPolicy vae_tiling_;
    std::vector<uint8_t> watermark_;
    std::shared_ptr<const class SafetyChecker> safety_checker_;
    NsfwAction nsfw_action_ = NsfwAction::Black;
    std::vector<LoraUse> loras_built_;        // the set text_encoders_ / unet_ carry (or will, once built)
    std::optional<Checkpoint> lora_weights_;  // ck_ with the merged weights, while a generate() needs it
    std::vector<std::string> lora_unmatched_;
    std::map<std::string, std::string> lora_hashes_;  // path -> webui's short hash, for the infotext
    std::string sha256_;
    // The file's hash, computed on a thread of its own while the models are built (building runs on one
    // core: SerialScope); generate() collects it before sampling, so it never competes with the sampler.
    std::future<std::string> sha256_pending_;
    std::mutex sha256_mutex_;
    double load_seconds_ = 0;
};

// A random seed in [0, 2^32) (torch's CPU generator uses only 32 bits of a seed).
int64_t random_seed();

}  // namespace difu
