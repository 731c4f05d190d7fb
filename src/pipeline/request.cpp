#include "pipeline/request.h"

#include <cctype>
#include <cmath>

#include "core/error.h"
#include "sampling/sampler_names.h"

namespace difu {

RngSource parse_rng_source(const std::string& name) {
    std::string n = name;
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n == "cpu") return RngSource::Cpu;
    if (n == "gpu" || n == "nv" || n == "cuda") return RngSource::Gpu;
    throw Error::make("unknown rng '{}': cpu (torch's CPU generator) or gpu / nv (webui's GPU numbers)", name);
}

const char* rng_label(RngSource source) { return source == RngSource::Cpu ? "CPU" : "NV"; }

void validate_request(const GenerateRequest& r, const RequestLimits& lim) {
    constexpr int kLatentFactor = 8;  // the VAE's downscale
    for (auto [name, v] : {std::pair{"width", r.width}, {"height", r.height}}) {
        if (v == kModelDefaultSize) continue;  // the pipeline fills it in (and checks again)
        if (v < 64 || v > lim.max_side) throw Error::make("{} must be between 64 and {}, got {}", name, lim.max_side, v);
        if (v % kLatentFactor != 0) throw Error::make("{} must be a multiple of 8, got {}", name, v);
    }
    if (r.steps < 1 || r.steps > lim.max_steps) throw Error::make("steps must be between 1 and {}, got {}", lim.max_steps, r.steps);
    if (!std::isfinite(r.cfg_scale) || r.cfg_scale < 0 || r.cfg_scale > 100)
        throw Error::make("cfg scale must be between 0 and 100, got {}", r.cfg_scale);
    if (r.batch_count < 1 || r.batch_count > 1000) throw Error::make("batch count must be between 1 and 1000, got {}", r.batch_count);
    if (r.batch_size < 1 || r.batch_size > lim.max_batch)
        throw Error::make("batch size must be between 1 and {}, got {}", lim.max_batch, r.batch_size);
    if (r.clip_skip < 1 || r.clip_skip > 12) throw Error::make("clip skip must be between 1 and 12, got {}", r.clip_skip);
    if (!(r.variation.strength >= 0 && r.variation.strength <= 1))
        throw Error::make("variation strength must be between 0 and 1, got {}", r.variation.strength);
    for (int side : {r.variation.resize_from_width, r.variation.resize_from_height})
        if (side != 0 && (side < 64 || side > lim.max_side))
            throw Error::make("seed resize size must be 0 (off) or between 64 and {}, got {}", lim.max_side, side);
    if (r.variation.subseed < -1)
        throw Error::make("variation seed must be -1 (random) or a non-negative integer, got {}", r.variation.subseed);
    if (r.seed < -1) throw Error::make("seed must be -1 (random) or a non-negative integer, got {}", r.seed);
    if (!(r.strength >= 0 && r.strength <= 1)) throw Error::make("strength must be between 0 and 1, got {}", r.strength);
    if (!(r.eta >= 0 && r.eta <= 1)) throw Error::make("eta must be between 0 and 1, got {}", r.eta);
    if (r.mask && !r.init_image) throw Error::make("an inpainting mask needs the image it masks (an init image)");
    if (r.refiner_switch_at && !(*r.refiner_switch_at > 0 && *r.refiner_switch_at <= 1))
        throw Error::make("refiner switch must be in (0, 1], got {}", *r.refiner_switch_at);
    constexpr int kMaxConditioningSide = 1 << 16;
    const SizeConditioning& s = r.size_conditioning;
    for (auto [name, v] : {std::pair{"original width", s.original_width}, {"original height", s.original_height},
                           {"crop top", s.crop_top}, {"crop left", s.crop_left}, {"target width", s.target_width},
                           {"target height", s.target_height}})
        if (v < 0 || v > kMaxConditioningSide)
            throw Error::make("{} must be between 0 and {}, got {}", name, kMaxConditioningSide, v);
    (void)parse_sampler(r.sampler);
    (void)parse_scheduler(r.scheduler);
}

}  // namespace difu
