// pipeline/pipeline_inpaint.cpp — inpainting's stages around a run: the mask made into webui's
// (inverted, blurred, at the request's size), the masked content filled, and "Only masked" as a run on
// the crop around the mask, pasted back into the whole picture.
#include <fmt/format.h>

#include "core/error.h"
#include "pipeline/inpaint.h"
#include "pipeline/pipeline.h"

namespace difu {

void DiffusionPipeline::prepare_inpainting(GenerateRequest& r) const {
    r.mask = prepared_mask(*r.mask, r.inpaint, r.width, r.height);
    r.inpaint.mask_prepared = true;
    if (r.inpaint.fill == InpaintFill::Fill) {  // webui: masking.fill on each init image at the request's size
        auto fill = [&](Image& picture) {
            if (picture.width != r.width || picture.height != r.height) picture = resize_image(picture, r.width, r.height);
            picture = fill_masked(picture, *r.mask);
        };
        fill(*r.init_image);
        for (Image& img : r.more_init_images) fill(img);
    }
}

// c_concat of an inpainting UNet per init image: [1, 5, h, w] for one, [B, 5, h, w] for one each.
Tensor DiffusionPipeline::inpainting_conditionings(const GenerateRequest& r, Arena& arena, double* build) {
    if (r.init_image->width != r.width || r.init_image->height != r.height)
        throw Error::make("inpainting models take the init image at the request's size: the latent-upscale resize mode "
                          "cannot be used with them");
    const Tensor pictures = init_image_tensor(r);
    const int64_t count = r.more_init_images.empty() ? 1 : r.batch_size;
    std::vector<Tensor> parts;
    for (int64_t b = 0; b < count; ++b)
        parts.push_back(inpainting_conditioning(vae_model(build), cfg_, pictures.slice(0, b, b + 1).contiguous(), mask_shares(*r.mask),
                                                r.mask_image_noise.value_or(Tensor()), arena, vae_tiling_, r.inpaint.mask_weight,
                                                r.inpaint.round));
    if (count == 1) return parts.front();
    Tensor all = Tensor::empty({count, parts[0].dim(1), parts[0].dim(2), parts[0].dim(3)});
    for (int64_t b = 0; b < count; ++b) std::copy(parts[b].f32().begin(), parts[b].f32().end(), all.f32_mut().begin() + b * parts[b].numel());
    return all;
}

void DiffusionPipeline::inpaint_infotext(const GenerateRequest& r, std::vector<std::pair<std::string, std::string>>& extra) const {
    const InpaintOptions& o = r.inpaint;
    if (o.invert) extra.emplace_back("Mask mode", "Inpaint not masked");  // webui's words
    if ((o.blur_x > 0 || o.blur_y > 0) && o.blur_x == o.blur_y) extra.emplace_back("Mask blur", std::to_string(o.blur_x));
    if (o.fill != InpaintFill::Original) extra.emplace_back("Masked content", inpaint_fill_label(o.fill));
    if (o.only_masked) {
        extra.emplace_back("Inpaint area", "Only masked");
        extra.emplace_back("Masked area padding", std::to_string(o.only_masked_padding));
    }
    if (o.mask_weight != 1.0f && cfg_.unet.in_channels != cfg_.unet.out_channels)
        extra.emplace_back("Conditional mask weight", fmt::format("{}", o.mask_weight));
}

// webui's inpaint_full_res: the box around the (blurred) mask plus padding, widened to the request's
// aspect, cut from picture and mask and resized to the request's size ("Resize and fill"); the run's
// pictures are resized back ("Crop and resize"), put in place and blended in with the mask's L as
// their share. A blank mask makes it a plain img2img of the whole picture, as in webui.
GenerateResult DiffusionPipeline::generate_only_masked(const GenerateRequest& r, const ProgressFn& progress) {
    GenerateRequest inner = r;
    auto flat = [](const Image& img) { return img.channels == 4 ? flatten_alpha(img) : img; };
    const Image original = flat(*r.init_image);
    Image l = mask_luminance(*r.mask, r.inpaint.invert);
    if (l.width != original.width || l.height != original.height) l = prepared_mask(l, {}, original.width, original.height);
    l = blur_mask(l, r.inpaint.blur_x, r.inpaint.blur_y);
    const std::optional<PixelBox> found = masked_box(l, r.inpaint.only_masked_padding);
    if (!found) {
        inner.mask.reset();
        return run_stages(inner, progress);
    }
    const PixelBox box = expand_to_aspect(*found, r.width, r.height, original.width, original.height);
    std::vector<Image> originals{original};  // webui crops every init image with the first one's box
    for (const Image& img : r.more_init_images) originals.push_back(flat(img));
    for (size_t i = 0; i < originals.size(); ++i) {
        if (originals[i].width != original.width || originals[i].height != original.height)
            throw Error::make("init image {} is {}x{}, the first {}x{}: 'only masked' crops them all alike", i,
                              originals[i].width, originals[i].height, original.width, original.height);
        Image crop = resize_and_fill(crop_box(originals[i], box), r.width, r.height);
        if (i == 0) inner.init_image = std::move(crop);
        else inner.more_init_images[i - 1] = std::move(crop);
    }
    inner.mask = resize_mask_and_fill(crop_box(l, box), r.width, r.height);
    inner.inpaint.mask_prepared = true;
    inner.inpaint.composite = false;
    GenerateResult result = run_stages(inner, progress);
    const std::vector<float> share = mask_shares(l);
    for (size_t i = 0; i < result.images.size(); ++i) {
        GeneratedImage& item = result.images[i];
        const Image& under = originals[i % static_cast<size_t>(r.batch_size) % originals.size()];
        const Image part = resize_and_crop(item.image, box.width(), box.height());
        Image whole = under;  // the run's picture in its place
        for (int y = 0; y < box.height(); ++y)
            std::copy_n(part.at(0, y), part.stride(),
                        whole.pixels.begin() + static_cast<ptrdiff_t>((box.y1 + y) * whole.stride() + box.x1 * whole.channels));
        item.image = r.inpaint.composite ? paste_inpainted(whole, under, share) : whole;
    }
    return result;
}

}  // namespace difu
