#include "cli/pipeline_options.h"

#include "core/error.h"
#include "models/safety_checker.h"
#include "pipeline/watermark_dwtdct.h"

namespace difu::cli {

void PipelineOptions::add_to(CLI::App* cmd) {
    cmd->add_option("--vae-tiling", tiling,
                    "Decode and encode in overlapping tiles so memory stays bounded at any size: on, off, or auto "
                    "(when the untiled pass would need more than --vae-memory-mb)")->capture_default_str();
    cmd->add_option("--vae-tile-size", tile_size, "Tile side in image pixels (multiple of 8)")->capture_default_str();
    cmd->add_option("--vae-tile-overlap", tile_overlap, "Pixels neighbouring tiles share, blended (multiple of 8)")
        ->capture_default_str();
    cmd->add_option("--vae-memory-mb", memory_mb, "Scratch memory an untiled VAE pass may take before auto tiling starts")
        ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
    cmd->add_option("--taesd", taesd, "TAESD, the tiny autoencoder's decoder (taesd_decoder.pth / .safetensors; taesdxl_decoder "
                                      "for SDXL): decodes (generate) and draws live previews; about 100x less work than the VAE");
    cmd->add_option("--taesd-encoder", taesd_encoder, "TAESD's encoder (taesd_encoder.pth / .safetensors): encodes the init image");
    cmd->add_option("--watermark", watermark,
                    "Mark every picture with the invisible dwtDct watermark of the SD releases: sd1 ('StableDiffusionV1', "
                    "as CompVis's txt2img.py), sdxl (sgm's 48 bits), hex:DIGITS or any text; `difu watermark detect` reads it");
    cmd->add_option("--safety-checker", safety_checker,
                    "Check every picture with the SD safety checker (CompVis/stable-diffusion-safety-checker: its folder, or "
                    "model.safetensors / pytorch_model.bin)");
    cmd->add_option("--nsfw-action", nsfw_action, "What a flagged picture becomes: black (as diffusers), blur, or flag-only")
        ->capture_default_str();
}

VaeTilingPolicy PipelineOptions::tiling_policy() const {
    VaeTilingPolicy p;
    try {
        p.mode = parse_vae_tiling_mode(tiling);
    } catch (const Error& e) {
        throw Error::make("--vae-tiling: {}", e.what());
    }
    constexpr int kMinTile = 8 * kLatentDownscale;
    if (tile_size < kMinTile || tile_size % kLatentDownscale != 0)
        throw Error::make("--vae-tile-size {}: give a multiple of {} of at least {}", tile_size, kLatentDownscale, kMinTile);
    if (tile_overlap < 0 || tile_overlap % kLatentDownscale != 0 || tile_overlap >= tile_size)
        throw Error::make("--vae-tile-overlap {}: give a multiple of {} below the tile size {}", tile_overlap, kLatentDownscale,
                          tile_size);
    p.tiles = {tile_size / kLatentDownscale, tile_overlap / kLatentDownscale};
    p.memory_budget_bytes = memory_mb << 20;
    return p;
}

void PipelineOptions::check() const {
    (void)tiling_policy();
    if (!watermark.empty()) (void)parse_watermark_message(watermark);
    try {
        (void)parse_nsfw_action(nsfw_action);
    } catch (const Error& e) {
        throw Error::make("--nsfw-action: {}", e.what());
    }
}

void PipelineOptions::apply(DiffusionPipeline& pipe) const {
    const VaeTilingPolicy policy = tiling_policy();
    const std::vector<uint8_t> mark = watermark.empty() ? std::vector<uint8_t>{} : parse_watermark_message(watermark);
    if (!checker_ && !safety_checker.empty()) checker_ = std::make_shared<const SafetyChecker>(safety_checker);
    for (DiffusionPipeline* p : {&pipe, pipe.refiner()})
        if (p) {
            p->set_vae_tiling(policy);
            p->set_watermark(mark);
            p->set_safety_checker(checker_, parse_nsfw_action(nsfw_action));
            if (!taesd.empty() || !taesd_encoder.empty()) p->set_taesd(taesd, taesd_encoder);
        }
}

}  // namespace difu::cli
