#include "pipeline/request.h"

#include <cctype>
#include <algorithm>
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
    for (auto [name, v] : {std::pair{"width", r.width}, {"height", r.height}}) {
        if (v == kModelDefaultSize) continue;  // the pipeline fills it in (and checks again)
        if (v < 64 || v > lim.max_side) throw Error::make("{} must be between 64 and {}, got {}", name, lim.max_side, v);
        if (v % kLatentDownscale != 0) throw Error::make("{} must be a multiple of 8, got {}", name, v);
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
    if (!r.more_init_images.empty() && (!r.init_image || static_cast<int>(r.more_init_images.size()) + 1 != r.batch_size))
        throw Error::make("{} init images need a batch size of {}, got {}", r.more_init_images.size() + 1,
                          r.more_init_images.size() + 1, r.batch_size);
    if (r.hires) {
        if (r.init_image) throw Error::make("the hires fix is a txt2img stage; img2img requests have none");
        const HiresSize s = hires_size(r.width == kModelDefaultSize ? lim.max_side : r.width,
                                       r.height == kModelDefaultSize ? lim.max_side : r.height, *r.hires);
        if (r.width != kModelDefaultSize && r.height != kModelDefaultSize && (s.width > lim.max_side || s.height > lim.max_side))
            throw Error::make("the hires pass would be {}x{}, past the largest side {}", s.width, s.height, lim.max_side);
        if (!(r.hires->denoising_strength >= 0 && r.hires->denoising_strength <= 1))
            throw Error::make("hires denoising strength must be between 0 and 1, got {}", r.hires->denoising_strength);
        if (!(r.hires->scale >= 1 && r.hires->scale <= 8)) throw Error::make("hires scale must be between 1 and 8, got {}", r.hires->scale);
        if (r.hires->steps < 0 || r.hires->steps > lim.max_steps) throw Error::make("hires steps must be between 0 and {}", lim.max_steps);
    }
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

Image fit_init_image(const Image& img, ResizeMode mode, int width, int height) {
    switch (mode) {
        case ResizeMode::Just: return img.width == width && img.height == height ? img : resize_image(img, width, height);
        case ResizeMode::CropAndResize: return resize_and_crop(img, width, height);
        case ResizeMode::ResizeAndFill: return resize_and_fill(img, width, height);
        case ResizeMode::LatentUpscale: {
            const int w = std::max(kLatentDownscale, img.width / kLatentDownscale * kLatentDownscale);
            const int h = std::max(kLatentDownscale, img.height / kLatentDownscale * kLatentDownscale);
            return w == img.width && h == img.height ? img : resize_image(img, w, h);
        }
    }
    return img;
}

int init_image_count(const GenerateRequest& r) {
    return r.init_image ? 1 + static_cast<int>(r.more_init_images.size()) : 0;
}

const Image& init_image_at(const GenerateRequest& r, int64_t position) {
    if (!r.init_image) throw Error::make("this request has no init image");
    if (r.more_init_images.empty() || position == 0) return *r.init_image;
    return r.more_init_images.at(static_cast<size_t>(position - 1) % r.more_init_images.size());
}

void fit_init_images(GenerateRequest& r) {
    auto fit = [&](Image& img) {
        if (img.channels == 4) img = flatten_alpha(img);
        img = fit_init_image(img, r.resize_mode, r.width, r.height);
    };
    if (r.init_image) fit(*r.init_image);
    for (Image& img : r.more_init_images) fit(img);
    for (const Image& img : r.more_init_images)
        if (img.width != r.init_image->width || img.height != r.init_image->height)
            throw Error::make("init images of {}x{} and {}x{}: with latent upscale they must have one size", img.width,
                              img.height, r.init_image->width, r.init_image->height);
}

// webui's StableDiffusionProcessingTxt2Img.init hires sizes (integer arithmetic as written there).
HiresSize hires_size(int width, int height, const HiresFix& h) {
    const int rx = h.resize_width, ry = h.resize_height;
    if (rx == 0 && ry == 0) return {static_cast<int>(width * h.scale), static_cast<int>(height * h.scale), 0, 0};
    if (ry == 0) return {rx, rx * height / width, 0, 0};
    if (rx == 0) return {ry * width / height, ry, 0, 0};
    const double src_ratio = static_cast<double>(width) / height, dst_ratio = static_cast<double>(rx) / ry;
    const int up_x = src_ratio < dst_ratio ? rx : ry * width / height;
    const int up_y = src_ratio < dst_ratio ? rx * height / width : ry;
    return {up_x, up_y, (up_x - rx) / kLatentDownscale, (up_y - ry) / kLatentDownscale};
}

}  // namespace difu
