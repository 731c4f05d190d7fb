// cli/generate_command.cpp — `difu generate` (also `difu` with options only): txt2img / img2img to
// PNG (or JPEG / WebP by extension) with webui's infotext.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <tuple>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "cli/pipeline_options.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include "pipeline/hires.h"
#include "pipeline/inpaint.h"
#include "pipeline/pipeline.h"
#include "pipeline/extra_networks.h"
#include "pipeline/refiner.h"
#include "sampling/sampler_names.h"

namespace difu::cli {
namespace {

std::string request_seed_note(const GenerateRequest& r) { return r.seed == kRandomSeed ? " (random)" : ""; }

struct GenerateOptions {
    std::string model, init_image, noise_file, output = "output.png", precision = "auto";
    std::string original_size, crop, target_size;  // SDXL micro-conditioning, "WxH" / "TOP,LEFT"
    std::string seed_resize_from;                   // webui's "Resize seed from", "WxH"
    std::string refiner;                            // webui's refiner checkpoint
    std::vector<std::string> loras;                 // --lora FILE[:WEIGHT]
    std::string lora_dir;                           // where <lora:name:...> tags look
    std::string embeddings_dir;                     // textual inversions prompts may name
    std::string vae;                                // a VAE file instead of the checkpoint's
    PipelineOptions pipeline_options;                         // --vae-tiling*, --taesd*
    std::string mask, mask_noise_file;              // inpainting mask; its masked image's stored posterior noise
    std::string outpaint;                           // "left=128,top=64": margins to paint around the init image
    bool no_mask_composite = false;
    int mask_blur = 4;                              // webui's UI defaults from here on
    std::string masked_content = "original", inpaint_area = "whole";
    std::string resize_mode = "just";
    std::string preview;                            // --preview FILE: a live preview while sampling
    int preview_every = 5;
    HiresFix hires;                                 // --hires-*: webui's hires fix
    std::string hires_resize, hires_prompt, hires_negative_prompt;
    float hires_cfg = 0.0f;
    bool hires_given = false, hires_prompt_given = false, hires_negative_given = false, hires_cfg_given = false;
    float refiner_switch = kDefaultRefinerSwitch;
    bool verbose = false;
    bool steps_given = false, cfg_given = false;  // else a Turbo model gets its own (1 step, cfg 1)
    GenerateRequest request;
};

// "1024x768" -> {1024, 768}; "32,16" with separator ','. Throws naming the option.
std::pair<int, int> parse_pair(const std::string& text, char separator, const char* option) {
    const size_t at = text.find(separator);
    int a = -1, b = -1;
    try {
        size_t used_a = 0, used_b = 0;
        if (at != std::string::npos) {
            a = std::stoi(text.substr(0, at), &used_a);
            b = std::stoi(text.substr(at + 1), &used_b);
        }
        if (at == std::string::npos || used_a != at || used_b != text.size() - at - 1) a = -1;
    } catch (const std::exception&) {
        a = -1;
    }
    if (a < 0 || b < 0)
        throw Error::make("{} must be two non-negative integers like '{}', got '{}'", option,
                          separator == 'x' ? "1024x1024" : "0,0", text);
    return {a, b};
}

// output.png -> output.png for one image, output-0.png, output-1.png, ... for several.
std::string output_path(const std::string& base, size_t index, size_t count) {
    if (count == 1) return base;
    std::filesystem::path p(base);
    return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index) + p.extension().string())).string();
}

// FILE.safetensors[:TENSOR]: the tensor (the only one when no name is given).
Tensor read_noise_file(const std::string& spec) {
    std::string path = spec, name;
    if (auto colon = spec.rfind(':'); colon != std::string::npos && spec.find(".safetensors:") != std::string::npos) {
        path = spec.substr(0, colon);
        name = spec.substr(colon + 1);
    }
    Checkpoint ck = load_checkpoint(path);
    if (name.empty()) {
        if (ck.tensors.size() != 1) throw Error::at(path, "holds {} tensors; say which with {}:NAME", ck.tensors.size(), path);
        return ck.tensors.begin()->second.to(DType::F32);
    }
    return ck.get(name).to(DType::F32);
}

void save(const std::string& path, const GeneratedImage& g) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".jpg" || ext == ".jpeg") write_jpeg(path, g.image, 90, g.infotext);
    else if (ext == ".webp") write_webp(path, g.image, 90, g.infotext);
    else if (ext == ".png" || ext.empty()) write_png(path, g.image, {{"parameters", g.infotext}});
    else throw Error::at(path, "unknown image format '{}' (use .png, .jpg or .webp)", ext);
}

void run_generate(GenerateOptions o) {
    using Clock = std::chrono::steady_clock;
    GenerateRequest& r = o.request;
    const bool default_model = o.model.empty();
    if (default_model) o.model = DIFU_DEFAULT_MODEL;
    if (!o.init_image.empty()) r.init_image = read_image(o.init_image);
    if (!o.noise_file.empty()) r.initial_noise = read_noise_file(o.noise_file);
    SizeConditioning& sc = r.size_conditioning;
    if (!o.original_size.empty())
        std::tie(sc.original_width, sc.original_height) = parse_pair(o.original_size, 'x', "--original-size");
    if (!o.crop.empty()) std::tie(sc.crop_top, sc.crop_left) = parse_pair(o.crop, ',', "--crop");
    if (!o.seed_resize_from.empty())
        std::tie(r.variation.resize_from_width, r.variation.resize_from_height) = parse_pair(o.seed_resize_from, 'x', "--seed-resize-from");
    if (!o.target_size.empty())
        std::tie(sc.target_width, sc.target_height) = parse_pair(o.target_size, 'x', "--target-size");
    if (!o.refiner.empty()) r.refiner_switch_at = o.refiner_switch;
    for (const std::string& l : o.loras) r.loras.push_back(parse_lora_option(l));
    {
        std::optional<LoraLibrary> library;
        if (!o.lora_dir.empty()) library.emplace(o.lora_dir);
        add_prompt_loras(r, library ? &*library : nullptr);
    }
    if (!o.mask.empty()) r.mask = read_image(o.mask);
    if (!o.outpaint.empty()) {  // pad, mask the margins, inpaint them at the new size
        if (!r.init_image) throw Error::make("--outpaint needs the picture to extend (-i)");
        if (r.mask) throw Error::make("--outpaint makes its own mask; leave out --mask");
        auto [canvas, mask] = outpaint_canvas(*r.init_image, parse_outpaint(o.outpaint));
        if (r.width == kModelDefaultSize) r.width = canvas.width;
        if (r.height == kModelDefaultSize) r.height = canvas.height;
        r.init_image = std::move(canvas);
        r.mask = std::move(mask);
    }
    if (!o.mask_noise_file.empty()) r.mask_image_noise = read_noise_file(o.mask_noise_file);
    r.inpaint.composite = !o.no_mask_composite;
    const std::vector<std::string> modes{"just", "crop", "fill", "latent"};
    const auto mode = std::find(modes.begin(), modes.end(), o.resize_mode);
    if (mode == modes.end()) throw Error::make("--resize-mode '{}': just, crop, fill or latent", o.resize_mode);
    r.resize_mode = static_cast<ResizeMode>(mode - modes.begin());
    r.inpaint.blur_x = r.inpaint.blur_y = o.mask_blur;
    try {
        r.inpaint.fill = parse_inpaint_fill(o.masked_content);
    } catch (const Error& e) {
        throw Error::make("--masked-content: {}", e.what());
    }
    if (o.inpaint_area != "whole" && o.inpaint_area != "masked")
        throw Error::make("--inpaint-area '{}': whole (the whole picture) or masked (only the masked part)", o.inpaint_area);
    r.inpaint.only_masked = o.inpaint_area == "masked";
    if (o.hires_given) {
        if (!o.hires_resize.empty())
            std::tie(o.hires.resize_width, o.hires.resize_height) = parse_pair(o.hires_resize, 'x', "--hires-resize");
        if (o.hires_prompt_given) o.hires.prompt = o.hires_prompt;
        if (o.hires_negative_given) o.hires.negative_prompt = o.hires_negative_prompt;
        if (o.hires_cfg_given) o.hires.cfg_scale = o.hires_cfg;
        (void)parse_hires_upscaler(o.hires.upscaler);  // a typo fails before the load
        r.hires = o.hires;
    }
    if (!o.pipeline_options.taesd.empty()) r.decode = VaeMethod::Taesd;
    if (!o.pipeline_options.taesd_encoder.empty()) r.encode = VaeMethod::Taesd;
    o.pipeline_options.check();  // a bad flag fails before the load
    validate_request(r);  // before the (slow) load, so a typo fails at once
    const PrecisionChoice precision = choose_precision(o.precision);
    if (default_model)
        fmt::print(stderr, "note: no --model given, using the bundled random-weight demo model {}: its images are noise. "
                           "Pass a real checkpoint, e.g. -m v1-5-pruned-emaonly.safetensors\n", o.model);
    const auto t_load = Clock::now();
    // One model at a time: a single run peaks at the UNet's memory, not the three models' sum.
    DiffusionPipeline pipe(o.model, precision.precision, ModelResidency::OneAtATime);
    if (!o.refiner.empty())
        pipe.set_refiner(std::make_shared<DiffusionPipeline>(o.refiner, precision.precision, ModelResidency::OneAtATime));
    if (!o.vae.empty()) pipe.set_vae(o.vae);
    o.pipeline_options.apply(pipe);
    if (!o.embeddings_dir.empty())
        for (DiffusionPipeline* p : {&pipe, pipe.refiner()})
            if (p) {
                p->set_embeddings(std::make_shared<EmbeddingLibrary>(o.embeddings_dir, p->config()));
                for (const auto& s : p->embeddings()->snapshot()->skipped)
                    if (o.verbose) fmt::print(stderr, "embedding {} skipped: {}\n", s.name, s.reason);
            }
    const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
    if (pipe.config().turbo() && (!o.steps_given || !o.cfg_given)) {
        if (!o.steps_given) r.steps = kTurboSteps;
        if (!o.cfg_given) r.cfg_scale = kTurboCfgScale;
        fmt::print(stderr, "note: {} (by {}): {} step(s) at cfg {:g} unless --steps / --cfg-scale say otherwise\n",
                   pipe.config().display_name(), pipe.config().turbo_evidence, r.steps, r.cfg_scale);
    }
    if (o.verbose)
        fmt::print(stderr, "loaded {} ({}, {}) in {:.2f} s; precision {}\n", o.model, family_name(pipe.config().family),
                   pipe.config().config_source, load_s, precision.reason);
    ProgressBar bar("sampling");
    int last_batch = -1;
    GenerateResult result = pipe.generate(r, [&](const ProgressInfo& p) {
        if (p.phase != "sampling") return true;
        if (p.batch != last_batch && r.batch_count > 1) {
            bar = ProgressBar(fmt::format("batch {}/{}", p.batch + 1, p.batches));
            last_batch = p.batch;
        }
        bar.update(p.step, p.steps);
        if (!o.preview.empty() && p.denoised && p.step % o.preview_every == 0)
            write_png(o.preview, pipe.preview(*p.denoised));  // the batch's first image, latent-sized (or TAESD)
        return true;
    });
    if (!result.lora_unmatched.empty())  // webui skips them silently; say so
        fmt::print(stderr, "warning: {} LoRA module(s) match nothing in this model and were skipped (first: {})\n",
                   result.lora_unmatched.size(), result.lora_unmatched.front());
    const auto t_save = Clock::now();
    for (size_t i = 0; i < result.images.size(); ++i) {
        const std::string path = output_path(o.output, i, result.images.size());
        save(path, result.images[i]);
        fmt::print("{}  seed {}{}{}\n", path, result.images[i].seed,
                   r.batch_size > 1 ? fmt::format(" (batch position {})", result.images[i].batch_pos) : "",
                   result.images[i].nsfw ? "  [flagged by the safety checker]" : "");
    }
    const double save_s = std::chrono::duration<double>(Clock::now() - t_save).count();
    // After the run: an SD 2.x model's eps / v may only be known once its UNet was probed.
    fmt::print(stderr, "model: {}; {}\n", pipe.config().display_name(), pipe.config().config_source);
    if (pipe.refiner())
        fmt::print(stderr, "refiner: {} ({}) from {:g} of the schedule\n", pipe.refiner()->model_name(),
                   pipe.refiner()->config().display_name(), o.refiner_switch);
    const int total_steps = r.steps * r.batch_count;
    fmt::print(stderr, "seed {}{}; load {:.2f} s (file {:.2f} s, models {:.2f} s), text {:.2f} s, sampling {:.2f} s ({:.2f} it/s), decode {:.2f} s, save {:.2f} s\n",
               result.seed, request_seed_note(o.request), load_s + result.times.build, load_s, result.times.build,
               result.times.text, result.times.sampling,
               result.times.sampling > 0 ? total_steps / result.times.sampling : 0.0, result.times.decode, save_s);
}

}  // namespace

void add_generate_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("generate", "Text-to-image or image-to-image (the default when difu gets options only)");
    auto o = std::make_shared<GenerateOptions>();
    GenerateRequest& r = o->request;
    cmd->add_option("-m,--model", o->model, "Checkpoint (.safetensors, .ckpt); default: the bundled random demo model");
    cmd->add_option("-p,--prompt", r.prompt, "Prompt (webui syntax: (word:1.2), [word], BREAK)");
    cmd->add_option("-n,--negative-prompt", r.negative_prompt, "Negative prompt");
    cmd->add_option("-W,--width", r.width, "Image width in pixels, a multiple of 8; default: the model's (512; 768 for SD 2.x v; 1024 for "
                                           "SDXL; 512 for Turbo)");
    cmd->add_option("-H,--height", r.height, "Image height in pixels, a multiple of 8; default: the model's");
    cmd->add_option("--steps", r.steps, "Sampling steps (SD-Turbo / SDXL-Turbo: 1 unless given)")->capture_default_str();
    cmd->add_option("--cfg-scale", r.cfg_scale, "Classifier-free guidance scale (1 = no guidance; Turbo: 1 unless given)")
        ->capture_default_str();
    std::string samplers;
    for (SamplerKind k : all_samplers()) samplers += (samplers.empty() ? "" : ", ") + sampler_id(k);
    cmd->add_option("--sampler", r.sampler, "Sampler: " + samplers + " (webui labels work too)")->capture_default_str();
    cmd->add_option("--scheduler", r.scheduler, "Sigma schedule for k-diffusion samplers: discrete, automatic (the sampler's own as in "
                    "webui: Karras for DPM++ 2M, exponential for the 2M/3M SDE ones), karras, exponential, simple, sgm_uniform, "
                    "sgm_legacy (SDXL reference code: starts from noise * sqrt(1 + sigma_0^2))")
        ->capture_default_str();
    cmd->add_option("-s,--seed", r.seed, "Seed; -1 picks a random one and reports it")->capture_default_str();
    cmd->add_option_function<std::string>(
           "--rng", [&r](const std::string& s) { r.rng = parse_rng_source(s); },
           "Noise source: cpu (torch's CPU generator, as ComfyUI; the default) or gpu / nv (webui's default: the "
           "numbers an NVIDIA GPU draws, one generator per image)");
    cmd->add_option("--subseed,--variation-seed", r.variation.subseed,
                    "webui's variation seed (-1: random when --subseed-strength > 0)");
    cmd->add_option("--subseed-strength,--variation-strength", r.variation.strength,
                    "How far towards the variation seed's noise (0 = none, 1 = all)")
        ->capture_default_str();
    cmd->add_option("--seed-resize-from", o->seed_resize_from,
                    "webui's 'Resize seed from' WxH: the noise the seed gives at that size, centred in this image's");
    cmd->add_option("--clip-skip", r.clip_skip, "Use the text encoder's N-th last layer (webui Clip skip; SD 1.x, SD 2.x always uses the penultimate)")->capture_default_str();
    cmd->add_option("-i,--init-img", o->init_image, "Image-to-image: start from this picture (PNG, JPEG, WebP)");
    cmd->add_option("--resize-mode", o->resize_mode,
                    "How an init image of another size is fitted (webui's resize modes): just (stretch), crop (scale to cover, "
                    "crop the middle), fill (scale to fit, fill the bands with its edges), latent (encode at its own size, "
                    "resize the latent)")->capture_default_str();
    cmd->add_option("--strength", r.strength, "Image-to-image: how much to change the picture (0..1)")->capture_default_str();
    cmd->add_option("--eta", r.eta, "DDIM eta (0 = deterministic)")->capture_default_str();
    cmd->add_option("--original-size", o->original_size,
                    "SDXL micro-conditioning: the 'original' image size WxH (default: the image's)");
    cmd->add_option("--crop", o->crop, "SDXL micro-conditioning: crop coordinates TOP,LEFT (default: 0,0)");
    cmd->add_option("--target-size", o->target_size, "SDXL micro-conditioning: target size WxH (default: the image's)");
    cmd->add_option("--refiner", o->refiner,
                    "A second checkpoint (e.g. the SDXL refiner) that takes over the sampler run at --refiner-switch");
    cmd->add_option("--refiner-switch", o->refiner_switch,
                    "Fraction of the schedule after which the refiner takes over (webui's 'Switch at', by noise level)")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 1.0));
    cmd->add_option("--lora", o->loras, "LoRA file FILE[:WEIGHT] merged into text encoder and UNet (repeatable)");
    cmd->add_option("--lora-dir", o->lora_dir, "Folder of LoRA files the prompt's <lora:name:weight> tags name (webui syntax; "
                                               "<lora:name:te:unet> sets the two weights apart)");
    cmd->add_option("--embeddings-dir", o->embeddings_dir,
                    "Folder of textual-inversion embeddings (.pt, .safetensors, .bin) a prompt names by file name, as webui");
    cmd->add_option("--vae", o->vae, "A VAE file to use instead of the checkpoint's (e.g. vae-ft-mse-840000-ema-pruned, sdxl_vae)");
    o->pipeline_options.add_to(cmd);
    cmd->add_option("--mask", o->mask, "Inpainting mask for the init image (-i): white (>= 128) is repainted, black kept");
    cmd->add_option("--outpaint", o->outpaint,
                    "Extend the init image (-i): left=N,right=N,top=N,bottom=N pixels (multiples of 8), its edges repeated "
                    "outwards and repainted as a masked img2img at the new size (--strength 1 with an inpainting model)");
    cmd->add_flag("--mask-invert", r.inpaint.invert, "Repaint the black part of the mask instead (webui's inpainting_mask_invert)");
    cmd->add_option("--mask-blur", o->mask_blur, "Blur the mask by this Gaussian sigma in pixels first (webui's mask_blur)")
        ->capture_default_str()->check(CLI::Range(0, 256));
    cmd->add_option("--masked-content", o->masked_content,
                    "What the masked part starts from: original, fill (painted in from its surroundings), \"latent noise\", "
                    "\"latent nothing\" (webui's inpainting_fill)")->capture_default_str();
    cmd->add_option("--inpaint-area", o->inpaint_area,
                    "whole: inpaint at the picture's size; masked: cut out the box around the mask (plus --inpaint-padding), "
                    "inpaint it at -W x -H and paste it back (webui's 'Only masked')")->capture_default_str();
    cmd->add_option("--inpaint-padding", r.inpaint.only_masked_padding, "Pixels around the mask's box with --inpaint-area masked")
        ->capture_default_str()->check(CLI::Range(0, 16384));
    cmd->add_option("--mask-weight", r.inpaint.mask_weight,
                    "Inpainting models: how much of the masked picture their conditioning hides (webui's inpainting_mask_weight)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--noise-multiplier", r.initial_noise_multiplier, "img2img: scale the noise added to the init image (webui's "
                    "initial_noise_multiplier)")->capture_default_str()->check(CLI::Range(0.0, 1.5));
    cmd->add_flag("--no-mask-composite", o->no_mask_composite,
                  "Keep the decoded picture outside the mask too, instead of pasting it over the original (runwayml's inpaint_st.py)");
    cmd->add_option("--mask-noise-file", o->mask_noise_file,
                    "An inpainting model's masked-image posterior noise from FILE.safetensors[:TENSOR] (reproduces a stored run; "
                    "default: the posterior mean)");
    HiresFix& h = o->hires;
    cmd->add_option("--hires-scale", h.scale, "Hires fix (webui): a second pass at the size x this")->capture_default_str();
    cmd->add_option("--hires-resize", o->hires_resize, "Hires fix to WxH instead of a scale (one of them 0: keep the aspect)");
    cmd->add_option("--hires-steps", h.steps, "Hires pass steps (0: as the first pass)")->capture_default_str();
    cmd->add_option("--hires-upscaler", h.upscaler,
                    "Latent, \"Latent (antialiased)\", \"Latent (bicubic)\", \"Latent (bicubic antialiased)\", \"Latent (nearest)\", "
                    "\"Latent (nearest-exact)\", or None / Lanczos (decode, resize, encode)")->capture_default_str();
    cmd->add_option("--denoising-strength", h.denoising_strength, "Hires pass: how much to change the upscaled picture (0..1)")
        ->capture_default_str();
    cmd->add_option("--hires-sampler", h.sampler, "Hires pass sampler (default: the first pass's)");
    cmd->add_option("--hires-prompt", o->hires_prompt, "Hires pass prompt (default: the prompt)");
    cmd->add_option("--hires-negative-prompt", o->hires_negative_prompt, "Hires pass negative prompt (default: the negative prompt)");
    cmd->add_option("--hires-cfg", o->hires_cfg, "Hires pass CFG scale (default: --cfg-scale)");
    cmd->add_option("--preview", o->preview,
                    "Write a live preview of the picture forming to FILE while sampling (webui's Approx cheap, or TAESD with --taesd)");
    cmd->add_option("--preview-every", o->preview_every, "Steps between previews")->capture_default_str()->check(CLI::Range(1, 10000));
    cmd->add_option("--noise-file", o->noise_file,
                    "Initial noise from FILE.safetensors[:TENSOR] instead of the seed's (reproduces a stored run)");
    cmd->add_option("-b,--batch-count", r.batch_count, "Number of batches (seed + batch size for each next one)")->capture_default_str();
    cmd->add_option("--batch-size", r.batch_size, "Images per batch (one UNet call)")->capture_default_str();
    cmd->add_option("-o,--output", o->output, "Output file (.png, .jpg, .webp); several images get -0, -1, ...")->capture_default_str();
    cmd->add_option("--precision", o->precision, "auto (measure and take the faster), fp32 or bf16")->capture_default_str();
    cmd->add_flag("-v,--verbose", o->verbose, "Say more about loading and precision");
    cmd->footer("Global options go before or after the subcommand: -t/--threads N (default: the cores this process may use).");
    cmd->callback([o, cmd] {
        o->steps_given = cmd->count("--steps") > 0;
        o->cfg_given = cmd->count("--cfg-scale") > 0;
        for (const char* f : {"--hires-scale", "--hires-resize", "--hires-steps", "--hires-upscaler", "--denoising-strength",
                              "--hires-sampler", "--hires-prompt", "--hires-negative-prompt", "--hires-cfg"})
            o->hires_given = o->hires_given || cmd->count(f) > 0;
        o->hires_prompt_given = cmd->count("--hires-prompt") > 0;
        o->hires_negative_given = cmd->count("--hires-negative-prompt") > 0;
        o->hires_cfg_given = cmd->count("--hires-cfg") > 0;
        run_generate(*o);
    });
}

}  // namespace difu::cli
