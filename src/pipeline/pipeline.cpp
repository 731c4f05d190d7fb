#include "pipeline/pipeline.h"
#include "pipeline/watermark_dwtdct.h"
#include "models/safety_checker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>

#include "core/threads.h"
#include "core/torch_rng.h"
#include "io/diffusers_folder.h"
#include "io/external_vae.h"
#include "io/png_info.h"
#include "io/sha256.h"
#include "kernels/dnnl_weights.h"
#include "io/lora_merge.h"
#include "models/taesd/taesd.h"
#include "pipeline/conditioning.h"
#include "pipeline/extra_networks.h"
#include "pipeline/guidance.h"
#include "pipeline/image_conditioning.h"
#include "pipeline/inpaint.h"
#include "pipeline/noise.h"
#include "pipeline/prediction_probe.h"
#include "pipeline/refiner.h"
#include "pipeline/vector_conditioning.h"
#include "sampling/ddim.h"
#include "sampling/ddpm.h"
#include "sampling/k_dispatch.h"
#include "sampling/sampler_names.h"
#include "sampling/tensor_math.h"
#include "sampling/uni_pc.h"

namespace difu {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kModelHashDigits = 10;  // webui's short hash (sd_models.CheckpointInfo.shorthash)
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The checkpoint's own alphas_cumprod when it is stored in fp32 (fp16 files round it visibly:
// 1 - 0.00085 becomes 0.99902), else the schedule recomputed from the config's betas.
DiscreteSchedule model_schedule(const Checkpoint& ck, const ModelConfig& cfg) {
    if (ck.has("alphas_cumprod")) {
        const Tensor& t = ck.get("alphas_cumprod");
        if (t.dtype() == DType::F32 && t.numel() == cfg.schedule.timesteps) {
            auto v = t.contiguous().f32();
            return DiscreteSchedule(std::vector<float>(v.begin(), v.end()));
        }
    }
    return DiscreteSchedule(cfg.schedule);
}

}  // namespace

int64_t random_seed() {
    std::random_device rd;
    return static_cast<int64_t>(rd() & 0xffffffffu);
}

DiffusionPipeline::DiffusionPipeline(const std::string& path, Precision precision, ModelResidency residency)
    : path_(path), precision_(precision), residency_(residency) {
    const auto t0 = Clock::now();
    ck_ = load_checkpoint(path);
    cfg_ = detect_model(ck_);
    if (!cfg_.supported()) throw Error::at(path, "{}", cfg_.unsupported_reason());
    KeyReport keys = check_keys(ck_, cfg_);
    if (!keys.complete())
        throw Error::at(path, "{} tensors are missing or have the wrong shape (first: {}); `difu inspect` lists them",
                        keys.missing.size() + keys.wrong_shape.size(),
                        keys.missing.empty() ? keys.wrong_shape.front() : keys.missing.front());
    schedule_ = std::make_unique<DiscreteSchedule>(model_schedule(ck_, cfg_));
    sha256_pending_ = std::async(std::launch::async, [p = path_] { return sha256_file_hex(hashed_file(p)); });
    if (residency_ == ModelResidency::AllModels) {
        text_model(nullptr);
        unet_model(nullptr);
        vae_model(nullptr);
    }
    load_seconds_ = since(t0);
}

void DiffusionPipeline::release_all_but(const void* keep) {
    if (residency_ != ModelResidency::OneAtATime) return;
    if (text_encoders_.get() != keep) text_encoders_.reset();
    if (unet_.get() != keep) unet_.reset();
    if (vae_.get() != keep) vae_.reset();
}

namespace {


template <typename Model>
const Model& build_if_needed(std::unique_ptr<Model>& m, const Checkpoint& ck, const ModelConfig& cfg, Precision p,
                             double* build_seconds) {
    if (!m) {
        const auto t0 = Clock::now();
        SerialScope serial;
        m = std::make_unique<Model>(ck, cfg, p);
        PackedWeights::release_scratch();
        // The model holds its own (converted, reordered) copies of the weights, and each layer let go
        // of its file pages once converted; this drops the rest (the header, anything read, not kept).
        if (ck.file) ck.file->release_pages();
        if (build_seconds) *build_seconds += since(t0);
    }
    return *m;
}
}  // namespace

const TextEncoders& DiffusionPipeline::text_model(double* build_seconds) {
    release_all_but(text_encoders_.get());
    return build_if_needed(text_encoders_, weights(), cfg_, precision_, build_seconds);
}

void DiffusionPipeline::set_vae(const std::string& path) {
    vae_.reset();
    external_vae_.reset();
    vae_path_.clear();
    if (path.empty()) return;
    external_vae_ = with_external_vae(ck_, cfg_, path);
    vae_path_ = path;
    vae_hash_ = sha256_file_hex(path).substr(0, kModelHashDigits);
}

void DiffusionPipeline::set_taesd(const std::string& decoder_path, const std::string& encoder_path) {
    taesd_decoder_ = decoder_path.empty() ? nullptr : std::make_shared<TaesdModel>(decoder_path, TaesdModel::Part::Decoder);
    taesd_encoder_ = encoder_path.empty() ? nullptr : std::make_shared<TaesdModel>(encoder_path, TaesdModel::Part::Encoder);
}

void DiffusionPipeline::use_loras(const std::vector<LoraUse>& loras) {
    if (loras == loras_built_) return;
    text_encoders_.reset();  // built with another set: rebuilt from the file's weights and the new merge
    unet_.reset();
    lora_weights_.reset();
    lora_unmatched_.clear();
    loras_built_ = loras;
}

const Checkpoint& DiffusionPipeline::weights() {
    if (loras_built_.empty()) return ck_;
    if (!lora_weights_) {
        std::vector<LoraFile> files;
        for (const LoraUse& use : loras_built_) files.push_back(read_lora(use.path));
        std::vector<WeightedLora> weighted;
        for (size_t i = 0; i < files.size(); ++i) weighted.push_back({&files[i], loras_built_[i].te, loras_built_[i].unet});
        LoraMerge merge = merge_loras(ck_, cfg_, weighted);
        lora_weights_ = ck_;  // the file's tensors (views), the merged ones in their place
        for (auto& [key, w] : merge.weights) lora_weights_->tensors[key] = std::move(w);
        lora_unmatched_ = std::move(merge.unmatched);
    }
    return *lora_weights_;
}

const UNetModel& DiffusionPipeline::unet_model(double* build_seconds) {
    release_all_but(unet_.get());
    const UNetModel& unet = build_if_needed(unet_, weights(), cfg_, precision_, build_seconds);
    if (!cfg_.schedule.prediction_known) {
        const auto t0 = Clock::now();
        const PredictionProbe probe = probe_prediction(unet);
        cfg_.schedule.prediction = probe.prediction;
        cfg_.schedule.prediction_known = true;
        cfg_.config_source += fmt::format("; {} prediction by webui's UNet probe (mean(out - x) = {:.3g})",
                                          probe.prediction == Prediction::V ? "v" : "eps", probe.mean_output_minus_input);
        if (build_seconds) *build_seconds += since(t0);
    }
    return unet;
}

Prediction DiffusionPipeline::prediction(double* build_seconds) {
    if (!cfg_.schedule.prediction_known) unet_model(build_seconds);
    return cfg_.schedule.prediction;
}

void DiffusionPipeline::resolve_default_size(GenerateRequest& r, double* build_seconds) {
    if (r.width != kModelDefaultSize && r.height != kModelDefaultSize) return;
    const int side = cfg_.default_size(prediction(build_seconds));
    if (r.width == kModelDefaultSize) r.width = side;
    if (r.height == kModelDefaultSize) r.height = side;
    validate_request(r);
}

const AutoencoderKL& DiffusionPipeline::vae_model(double* build_seconds) {
    release_all_but(vae_.get());
    return build_if_needed(vae_, external_vae_ ? *external_vae_ : ck_, cfg_, precision_, build_seconds);
}

std::string DiffusionPipeline::model_name() const { return std::filesystem::path(path_).stem().string(); }

const std::string& DiffusionPipeline::model_sha256() {
    std::lock_guard<std::mutex> lock(sha256_mutex_);  // the server asks from its HTTP threads too
    if (sha256_pending_.valid()) sha256_ = sha256_pending_.get();
    if (sha256_.empty()) sha256_ = sha256_file_hex(hashed_file(path_));
    return sha256_;
}

std::string DiffusionPipeline::model_hash() { return model_sha256().substr(0, kModelHashDigits); }

Conditioning DiffusionPipeline::encode_text(const TextEncoders& text, const std::string& prompt,
                                             const GenerateRequest& r, bool negative, Arena& arena) const {
    const std::shared_ptr<const EmbeddingSet> embeddings = embeddings_ ? embeddings_->snapshot() : nullptr;
    TextEncoding e = encode_prompt(text.all(), ClipTokenizer::default_instance(), prompt, r.clip_skip, arena, embeddings.get());
    return {e.hidden, vector_conditioning(describe(cfg_.family).vector, e.pooled, r.size_conditioning, r.width, r.height,
                                          negative)};
}

Conditioning DiffusionPipeline::zero_text(const GenerateRequest& r) const {
    Conditioning z{Tensor::empty({1, kClipChunkLength, cfg_.unet.context_dim})};
    for (float& v : z.context.f32_mut()) v = 0.0f;
    if (cfg_.pooled_dim() > 0) {
        Tensor pooled = Tensor::empty({1, cfg_.pooled_dim()});
        for (float& v : pooled.f32_mut()) v = 0.0f;
        z.vector = vector_conditioning(describe(cfg_.family).vector, pooled, r.size_conditioning, r.width, r.height,
                                       /*negative=*/true);
    }
    return z;
}

// The refiner's side of one request: its model and switch point, its inputs (encoded at the first switch,
// kept for the next batches), and whether the current batch switched.
struct DiffusionPipeline::RefinerRun {
    DiffusionPipeline& model;
    float switch_at;
    std::optional<ModelInputs> inputs;
    bool switched = false;
};

ModelInputs DiffusionPipeline::model_inputs(const GenerateRequest& r, Arena& arena, double* build) {
    const TextEncoders& text = text_model(build);
    auto encode = [&](const std::string& prompt) { return encode_text(text, prompt, r, false, arena); };
    const bool zero_negative = describe(cfg_.family).zero_empty_negative && r.negative_prompt.empty();
    auto encode_negative = [&](const std::string& prompt) {
        return zero_negative ? zero_text(r) : encode_text(text, prompt, r, true, arena);
    };
    // Prompt editing is scheduled over model calls, as webui's CFGDenoiser counts them (steps × 2 for a
    // second-order sampler).
    const int calls = r.steps * schedule_calls_per_step(parse_sampler(r.sampler).kind);
    ModelInputs in{{ScheduledConditioning(strip_extra_networks(r.prompt), calls, encode),
                    ScheduledConditioning(r.negative_prompt, calls, encode_negative), Tensor()},
                   Tensor()};
    // The empty prompt's encoding pads the shorter of cond / uncond; only needed when they can differ.
    std::vector<int64_t> counts = in.prompts.cond.token_counts(), uncond_counts = in.prompts.uncond.token_counts();
    counts.insert(counts.end(), uncond_counts.begin(), uncond_counts.end());
    if (std::adjacent_find(counts.begin(), counts.end(), std::not_equal_to<>()) != counts.end())
        in.prompts.empty_chunk = encode("").context;
    // An inpainting UNet's extra input channels: the request's mask and masked image, else (webui without
    // a mask) everything masked over a gray image.
    if (cfg_.unet.in_channels != cfg_.unet.out_channels) {
        if (r.mask && r.init_image)
            in.image_conditioning = inpainting_conditionings(r, arena, build);
        else
            in.image_conditioning = txt2img_image_conditioning(vae_model(build), cfg_, r.width, r.height, arena, vae_tiling_);
    }
    return in;
}

std::unique_ptr<GuidedModel> DiffusionPipeline::guided_model(const GenerateRequest& r, const ModelInputs& inputs,
                                                             Arena& arena, double* build) {
    auto g = std::make_unique<GuidedModel>(GuidedModel{unet_model(build), *schedule_, Tensor(), Tensor(), r.cfg_scale, arena});
    g->prediction = cfg_.schedule.prediction;  // known: the UNet is built (and probed if need be)
    g->image_conditioning = inputs.image_conditioning;
    return g;
}

// One batch of latents: the initial noise from the batch's seed, then the sampler's loop.
Tensor DiffusionPipeline::sample_batch(const GenerateRequest& r, int64_t seed, int batch, int batches,
                                       const Tensor* init_latent, const ModelInputs& base_inputs, RefinerRun* refiner,
                                       Arena& persistent, const ProgressFn& progress, double* build) {
    const SamplerChoice sc = parse_sampler(r.sampler);
    const SigmaScheduler sched = effective_scheduler(sc, parse_scheduler(r.scheduler));
    const Shape shape{r.batch_size, cfg_.unet.out_channels, r.height / 8, r.width / 8};  // the latent, not c_concat
    // The batch's variation seeds follow its seeds: image i of the request has subseed + i (webui).
    Variation variation = r.variation;
    variation.subseed += seed - r.seed;
    BatchNoise draws(r.rng, seed, shape, variation);
    Tensor noise = draws.first();
    if (r.initial_noise) {
        if (r.initial_noise->shape() != shape)
            throw Error::make("the given initial noise has shape {}, but this request needs {}",
                              shape_str(r.initial_noise->shape()), shape_str(shape));
        noise = r.initial_noise->to(DType::F32);
    }
    NoiseSampler ancestral = [&draws, shape](const Shape& s, float, float) {
        if (s != shape) throw Error::make("a sampler asked for noise of shape {}, the latent is {}", shape_str(s), shape_str(shape));
        return draws.next();
    };
    Tensor start;
    // Masked img2img: the repaint mask at latent size, and webui's masked content in the start latent.
    std::vector<float> repaint;
    if (init_latent) {
        start = img2img_start_latent(*init_latent, draws);
        noise = scaled(noise, r.initial_noise_multiplier);
        if (r.mask) {
            repaint = latent_repaint_mask(*r.mask, r.inpaint.round);
            if (r.inpaint.fill == InpaintFill::LatentNoise)  // webui: the seeds' own noise, without variation
                start = blend_latents(BatchNoise(r.rng, seed, shape, Variation{}).first(), start, repaint);
            else if (r.inpaint.fill == InpaintFill::LatentNothing)
                start = blend_latents(Tensor::empty(start.shape()), start, repaint);
        }
    }
    const int img2img_steps = static_cast<int>(std::min(r.strength, 0.999f) * r.steps);  // webui's t_enc
    Arena arena;
    if (refiner) {
        refiner->model.release_all_but(nullptr);  // under OneAtATime: the base UNet comes back in its place
        refiner->switched = false;
    }
    const ModelInputs* inputs = &base_inputs;
    std::unique_ptr<GuidedModel> guided = guided_model(r, *inputs, arena, build);
    // The conditioning in force at a model call (prompt editing): webui's CFGDenoiser.step counts calls.
    int call = 0;
    auto condition_for = [&](int at) {
        guided->cond = inputs->prompts.cond.at(at);
        guided->uncond = inputs->prompts.uncond.at(at);
        pad_to_same_length(guided->cond, guided->uncond, inputs->prompts.empty_chunk);
    };
    condition_for(0);
    auto next_call = [&] {  // before each model call
        if (inputs->prompts.cond.changes_at(call) || inputs->prompts.uncond.changes_at(call)) condition_for(call);
        ++call;
    };
    auto to_refiner = [&] {
        release_all_but(nullptr);  // under OneAtATime: the base UNet makes room for the refiner's models
        DiffusionPipeline& m = refiner->model;
        if (!refiner->inputs) refiner->inputs = m.model_inputs(r, persistent, build);
        inputs = &*refiner->inputs;
        guided = m.guided_model(r, *inputs, arena, build);
        condition_for(call);
        refiner->switched = true;
    };
    constexpr float kNever = 2.0f;  // above every completed ratio
    ModelSwitch models(*schedule_, refiner ? refiner->switch_at : kNever, to_refiner);
    StepCallback cb = [&](int step, int steps, const Tensor&, const Tensor& denoised) {
        return !progress || progress(ProgressInfo{"sampling", step + 1, steps, batch, batches, &denoised});
    };
    auto eps_model = [&] {
        return models.eps_model([&] {
            next_call();
            return make_cfg_eps(*guided);
        });
    };
    if (sc.kind == SamplerKind::Ddpm) {
        if (init_latent) throw Error::make("img2img with the DDPM sampler is not supported; use ddim or a k-diffusion sampler");
        return sample_ddpm(eps_model(), *schedule_, r.steps, noise, ancestral, cb);
    }
    if (r.mask && init_latent && is_compvis(sc.kind))
        throw Error::make("masked img2img runs on the k-diffusion samplers (euler_a, dpmpp_2m, ...), not {}", sampler_label(sc.kind));
    if (sc.kind == SamplerKind::UniPc || sc.kind == SamplerKind::UniPcBh2) return sample_unipc_run(r, sc, noise, init_latent ? &start : nullptr, eps_model(), cb);
    if (is_compvis(sc.kind)) {
        const DdimSchedule ds = make_ddim_schedule(*schedule_, r.steps, r.eta);
        int t_start = static_cast<int>(ds.timesteps.size());
        Tensor x = noise;
        if (init_latent) {  // CompVis img2img.py: t_enc = int(strength * steps), noised with alphas[t_enc]
            t_start = static_cast<int>(r.strength * r.steps);
            if (t_start == 0) return start;
            x = ddim_stochastic_encode(ds, start, t_start, noise);
        }
        EpsModel eps = eps_model();
        return sc.kind == SamplerKind::Plms ? sample_plms(eps, ds, x, t_start, cb).x
                                            : sample_ddim(eps, ds, x, t_start, ancestral, cb).x;
    }
    const SamplerInfo& info = sampler_info(sc.kind);
    std::vector<float> sigmas = make_sigmas(*schedule_, sched, r.steps + (info.discard_penultimate_sigma ? 1 : 0));
    if (info.discard_penultimate_sigma) sigmas.erase(sigmas.end() - 2);  // webui / ComfyUI: steps + 1, next-to-last dropped
    Tensor x;
    if (init_latent) {  // webui img2img: sigma_sched = sigmas[steps - t_enc - 1:]; x = init + noise sigma_0
        sigmas.erase(sigmas.begin(), sigmas.begin() + (r.steps - img2img_steps - 1));
        x = axpby(1.0f, start, sigmas[0], noise);
    } else {
        x = scaled(noise, start_noise_scale(sched, sigmas[0]));
    }
    Denoiser d = models.denoiser([&] {
        next_call();
        return make_cfg_denoiser(*guided);
    });
    // Masked img2img: every denoised estimate keeps the init latent outside the mask (webui's CFGDenoiser).
    if (!repaint.empty()) {
        d = [inner = std::move(d), &start, &repaint](const Tensor& x, float sigma) { return blend_latents(inner(x, sigma), start, repaint); };
    }
    const KSamplerArgs a{d, sigmas, cb};
    Tensor out;
    if (info.noise != SamplerNoise::Brownian) {
        out = run_k_sampler(sc.kind, a, x, ancestral);
    } else {  // the Brownian paths span the run's sigmas: from the smallest above 0 to the largest
        float sigma_min = sigmas.front(), sigma_max = sigmas.front();
        for (float s : sigmas)
            if (s > 0) sigma_min = std::min(sigma_min, s), sigma_max = std::max(sigma_max, s);
        out = run_k_sampler(sc.kind, a, x, draws.brownian(sigma_min, sigma_max));
    }
    return repaint.empty() ? out : blend_latents(out, start, repaint);
}

NsfwAction parse_nsfw_action(const std::string& name) {
    if (name == "black") return NsfwAction::Black;
    if (name == "blur") return NsfwAction::Blur;
    if (name == "flag-only") return NsfwAction::FlagOnly;
    throw Error::make("unknown NSFW action '{}' (black, blur, flag-only)", name);
}

namespace {
constexpr int kNsfwBlurDivisor = 32;  // "blur": the picture through a 1/32 scale, unrecognisable
Image blurred_beyond_recognition(const Image& img) {
    const Image tiny = resize_image(img, std::max(1, img.width / kNsfwBlurDivisor), std::max(1, img.height / kNsfwBlurDivisor));
    return resize_image(tiny, img.width, img.height, Resample::Bicubic);
}
}  // namespace

void DiffusionPipeline::post_process(GenerateResult& result) const {
    if (safety_checker_ && !result.images.empty()) {
        std::vector<Image> pictures;
        for (const GeneratedImage& item : result.images) pictures.push_back(item.image);
        Arena arena;
        const std::vector<SafetyVerdict> verdicts = safety_checker_->check(pictures, arena);
        for (size_t i = 0; i < verdicts.size(); ++i) {
            GeneratedImage& item = result.images[i];
            item.nsfw = verdicts[i].nsfw;
            if (!item.nsfw || nsfw_action_ == NsfwAction::FlagOnly) continue;
            if (nsfw_action_ == NsfwAction::Blur) item.image = blurred_beyond_recognition(item.image);
            else std::fill(item.image.pixels.begin(), item.image.pixels.end(), uint8_t{0});  // diffusers: np.zeros
        }
    }
    if (watermark_.empty()) return;
    for (GeneratedImage& item : result.images) item.image = embed_watermark_dwtdct(item.image, watermark_);
}

std::string DiffusionPipeline::infotext(const GenerateRequest& r, int64_t seed, int batch_pos, bool refined) {
    const SamplerChoice sc = parse_sampler(r.sampler);
    GenerationInfo info;
    info.prompt = r.prompt;
    info.negative_prompt = r.negative_prompt;
    info.steps = r.steps;
    info.sampler = sampler_label(sc.kind);
    if (!is_compvis(sc.kind)) info.schedule_type = scheduler_label(effective_scheduler(sc, parse_scheduler(r.scheduler)));
    info.cfg_scale = r.cfg_scale;
    info.seed = seed;  // the image's own (webui, GPU rng) or its batch's (CPU rng)
    info.width = r.width;
    info.height = r.height;
    info.model_hash = model_hash();
    info.model_name = model_name();
    if (r.init_image) info.denoising_strength = r.strength;
    info.clip_skip = r.clip_skip;
    info.rng = rng_label(r.rng);
    if (r.variation.strength > 0) {
        info.extra.emplace_back("Variation seed", std::to_string(r.variation.subseed + (seed - r.seed) +
                                                                 (r.rng == RngSource::Cpu ? batch_pos : 0)));
        info.extra.emplace_back("Variation seed strength", fmt::format("{}", r.variation.strength));
    }
    if (r.variation.resizes())
        info.extra.emplace_back("Seed resize from", fmt::format("{}x{}", r.variation.resize_from_width, r.variation.resize_from_height));
    info.version = std::string("difu ") + DIFU_VERSION;
    if (r.batch_size > 1) {
        info.extra.emplace_back("Batch size", std::to_string(r.batch_size));
        info.extra.emplace_back("Batch pos", std::to_string(batch_pos));
    }
    if (is_compvis(sc.kind) && r.eta > 0) info.extra.emplace_back("Eta", fmt::format("{}", r.eta));
    if (r.init_image && r.encode == VaeMethod::Taesd) info.extra.emplace_back("VAE Encoder", "TAESD");  // webui's sd_vae_*_method
    if (r.decode == VaeMethod::Taesd) info.extra.emplace_back("VAE Decoder", "TAESD");
    if (r.mask) inpaint_infotext(r, info.extra);
    if (r.init_image && r.initial_noise_multiplier != 1.0f)
        info.extra.emplace_back("Noise multiplier", fmt::format("{}", r.initial_noise_multiplier));
    if (r.hires) {  // webui's hires fields
        const HiresFix& h = *r.hires;
        info.denoising_strength = h.denoising_strength;
        if (h.resize_width > 0 || h.resize_height > 0)
            info.extra.emplace_back("Hires resize", fmt::format("{}x{}", h.resize_width, h.resize_height));
        else
            info.extra.emplace_back("Hires upscale", fmt::format("{}", h.scale));
        if (h.steps > 0) info.extra.emplace_back("Hires steps", std::to_string(h.steps));
        info.extra.emplace_back("Hires upscaler", h.upscaler);
        if (!h.sampler.empty()) info.extra.emplace_back("Hires sampler", h.sampler);
        if (h.prompt && *h.prompt != r.prompt) info.extra.emplace_back("Hires prompt", *h.prompt);
        if (h.negative_prompt && *h.negative_prompt != r.negative_prompt) info.extra.emplace_back("Hires negative prompt", *h.negative_prompt);
        if (h.cfg_scale) info.extra.emplace_back("Hires CFG Scale", fmt::format("{}", *h.cfg_scale));
    }
    if (!vae_path_.empty()) {  // webui's sd_vae: its short hash and file name
        info.extra.emplace_back("VAE hash", vae_hash_);
        info.extra.emplace_back("VAE", std::filesystem::path(vae_path_).filename().string());
    }
    if (!r.loras.empty()) {  // webui's Lora extension: "name: addnet short hash, ..."
        std::string hashes;
        for (const LoraUse& l : r.loras)
        {
            auto [it, fresh] = lora_hashes_.try_emplace(l.path);
            if (fresh) it->second = lora_short_hash(l.path);
            hashes += (hashes.empty() ? "" : ", ") + std::filesystem::path(l.path).stem().string() + ": " + it->second;
        }
        info.extra.emplace_back("Lora hashes", hashes);
    }
    if (refined) {  // webui's short_title: "name [hash]"
        info.extra.emplace_back("Refiner", fmt::format("{} [{}]", refiner_->model_name(), refiner_->model_hash()));
        info.extra.emplace_back("Refiner switch at", fmt::format("{}", *r.refiner_switch_at));
    }
    return format_infotext(info);
}

void DiffusionPipeline::set_refiner(std::shared_ptr<DiffusionPipeline> refiner) {
    if (refiner && refiner->cfg_.unet.out_channels != cfg_.unet.out_channels)
        throw Error::at(refiner->path_, "cannot refine {}: its latents have {} channels, {}'s have {}",
                        model_name(), refiner->cfg_.unet.out_channels, model_name(), cfg_.unet.out_channels);
    refiner_ = std::move(refiner);
}

GenerateResult DiffusionPipeline::generate(const GenerateRequest& request, const ProgressFn& progress) {
    GenerateResult result = run_stages(request, progress);
    post_process(result);
    return result;
}

GenerateResult DiffusionPipeline::run_stages(const GenerateRequest& request, const ProgressFn& progress) {
    GenerateRequest r = request;
    validate_request(r);
    if (r.refiner_switch_at && !refiner_)
        throw Error::make("this request asks for a refiner, but none is loaded (difu generate / serve --refiner MODEL)");
    use_loras(r.loras);
    if (r.seed == kRandomSeed) r.seed = random_seed();
    if (r.variation.subseed == kRandomSeed) r.variation.subseed = random_seed();
    // Known now unless an SD 2.x model's eps / v still has to be probed (then at the UNet's build).
    if (cfg_.schedule.prediction_known) resolve_default_size(r, nullptr);
    GenerateResult result;
    result.seed = r.seed;
    Arena arena;
    auto t0 = Clock::now();
    double build = 0;  // model building inside a phase is reported apart from the phase
    auto phase_seconds = [&](Clock::time_point start, double build_before) { return since(start) - (build - build_before); };
    if (progress && !progress(ProgressInfo{"text", 0, r.steps, 0, r.batch_count})) throw Cancelled{};
    // The init image and an inpainting UNet's conditioning are made at the request's size.
    if (r.init_image || cfg_.unet.in_channels != cfg_.unet.out_channels) resolve_default_size(r, &build);
    if (r.mask && r.inpaint.only_masked && !r.inpaint.mask_prepared) return generate_only_masked(r, progress);
    fit_init_images(r);
    std::vector<Image> originals;  // the fitted init images, as the overlay shows them outside the mask
    for (int i = 0; r.mask && i < init_image_count(r); ++i) originals.push_back(init_image_at(r, i));
    if (r.mask) prepare_inpainting(r);
    const ModelInputs inputs = model_inputs(r, arena, &build);
    std::optional<Tensor> moments;
    if (r.decode == VaeMethod::Taesd && !taesd_decoder_) throw Error::make("TAESD decoding asked for, but no TAESD decoder is loaded (--taesd FILE)");
    if (r.init_image && r.encode == VaeMethod::Taesd && !taesd_encoder_)
        throw Error::make("TAESD encoding asked for, but no TAESD encoder is loaded (--taesd-encoder FILE)");
    // An inpainting UNet at full strength starts from pure noise, its picture coming in through the
    // conditioning alone (runwayml's inpaint_st.py).
    const bool from_noise = r.mask && r.strength >= 1.0f && cfg_.unet.in_channels != cfg_.unet.out_channels;
    if (r.init_image && !from_noise)
        moments = r.encode == VaeMethod::Taesd ? taesd_init_moments(r) : encode_init_image(vae_model(&build), r, arena);
    result.times.text = phase_seconds(t0, 0);

    // Every batch is sampled before any is decoded, so that one UNet and then one VAE serve them all
    // (under OneAtATime each model is then built once per request, the refiner's models once per batch).
    std::optional<RefinerRun> refiner;
    if (r.refiner_switch_at) refiner.emplace(RefinerRun{*refiner_, *r.refiner_switch_at, std::nullopt});
    std::vector<Tensor> latents;
    std::vector<int64_t> seeds;
    std::vector<DiffusionPipeline*> finished_by;  // whose VAE decodes the batch (webui: the model loaded last)
    double build_before = build;
    t0 = Clock::now();
    resolve_default_size(r, &build);
    {  // normally done by now (it ran beside the builds); never beside the sampler
        const auto wait_start = Clock::now();
        model_sha256();
        if (refiner) refiner_->model_sha256();
        build += since(wait_start);  // reading the file: load time, not sampling
    }
    for (int b = 0; b < r.batch_count; ++b) {
        seeds.push_back(r.seed + static_cast<int64_t>(b) * r.batch_size);  // webui: the next batch's first seed
        latents.push_back(sample_batch(r, seeds.back(), b, r.batch_count, moments ? &*moments : nullptr, inputs,
                                       refiner ? &*refiner : nullptr, arena, progress, &build));
        if (r.hires) latents.back() = hires_pass(r, hires_request(r), seeds.back(), b, latents.back(), arena, progress, &build);
        finished_by.push_back(refiner && refiner->switched ? refiner_.get() : this);
    }
    result.times.sampling = phase_seconds(t0, build_before);

    build_before = build;
    t0 = Clock::now();
    for (int b = 0; b < r.batch_count; ++b) {
        if (progress && !progress(ProgressInfo{"decode", r.steps, r.steps, b, r.batch_count})) throw Cancelled{};
        DiffusionPipeline& decoder = *finished_by[static_cast<size_t>(b)];
        if (&decoder != this) release_all_but(nullptr);
        else if (refiner_) refiner_->release_all_but(nullptr);
        // TAESD: this model's (a refiner shares its latent space); images are TAESD's [0, 1] clamped.
        std::vector<Image> images = r.decode == VaeMethod::Taesd
                                        ? decode_taesd(latents[static_cast<size_t>(b)])
                                        : decoder.decode_batch(decoder.vae_model(&build), latents[static_cast<size_t>(b)], arena);
        if (r.mask && r.inpaint.composite) {  // webui's overlay: the original outside the mask
            const std::vector<float> alpha = overlay_alpha(*r.mask);
            for (size_t i = 0; i < images.size(); ++i)
                images[i] = paste_inpainted(images[i], originals[i % originals.size()], alpha);
        }
        for (size_t i = 0; i < images.size(); ++i) {
            // GPU rng: image i has a generator of its own, seed + i, which alone gives its noise again.
            const int64_t seed = seeds[static_cast<size_t>(b)] + (r.rng == RngSource::Gpu ? static_cast<int64_t>(i) : 0);
            result.images.push_back({std::move(images[i]), seed, static_cast<int>(i),
                                     infotext(r, seed, static_cast<int>(i), &decoder != this),
                                     r.variation.subseed + static_cast<int64_t>(b) * r.batch_size + static_cast<int64_t>(i)});
        }
    }
    result.times.decode = phase_seconds(t0, build_before);
    result.times.build = build;
    result.lora_unmatched = lora_unmatched_;
    lora_weights_.reset();  // the merged fp32 copies: the built models hold what they need
    return result;
}


}  // namespace difu
