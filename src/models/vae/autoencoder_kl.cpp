#include "models/vae/autoencoder_kl.h"

#include <algorithm>
#include <cstring>

#include "kernels/group_norm.h"

namespace difu {

constexpr float kLogvarMin = -30.0f, kLogvarMax = 20.0f;  // DiagonalGaussianDistribution clamp

namespace {
// Runs one step of the chain h = step(h) and moves its output down to `base`, where h began: the
// step's temporaries and its input are freed, so the arena holds one activation between steps
// (letting the inputs pile up cost 1.2 GB at 512x512).
template <typename F>
Tensor replace_at(Arena& a, const Arena::Mark& base, F&& step) {
    return a.keep(base, step());
}

VaeMid load_mid(const Weights& w, int64_t c) {
    VaeMid m;
    m.block_1.emplace(w.sub("block_1"), c, c);
    m.attn_1.emplace(w.sub("attn_1"), c);
    m.block_2.emplace(w.sub("block_2"), c, c);
    return m;
}
}  // namespace

Tensor Posterior::moments() const {
    const int64_t n = mean.dim(0), e = mean.dim(1), hw = mean.dim(2) * mean.dim(3);
    Tensor m = Tensor::empty({n, 2 * e, mean.dim(2), mean.dim(3)});
    for (int64_t b = 0; b < n; ++b) {
        std::copy_n(mean.f32().begin() + b * e * hw, e * hw, m.f32_mut().begin() + b * 2 * e * hw);
        std::copy_n(logvar.f32().begin() + b * e * hw, e * hw, m.f32_mut().begin() + (b * 2 + 1) * e * hw);
    }
    return m;
}

Tensor VaeMid::forward(const Tensor& x, Arena& a, const VaeProbe& probe, const std::string& prefix) const {
    Tensor h = block_1->forward(x, a);
    h = attn_1->forward(h, a);
    if (probe) probe(prefix + "mid.attn_1", h);
    h = block_2->forward(h, a);
    if (probe) probe(prefix + "mid.block_2", h);
    return h;
}

AutoencoderKL::AutoencoderKL(const Checkpoint& ck, const ModelConfig& cfg, Precision precision) : cfg_(cfg.vae) {
    const Weights w(ck, cfg.vae_prefix, precision);
    const int64_t ch = cfg_.ch, z = cfg_.z_channels, e = cfg_.embed_dim;
    const size_t levels = cfg_.ch_mult.size();
    // Encoder
    const Weights enc = w.sub("encoder");
    enc_conv_in_ = conv(enc, "conv_in", ch, cfg_.in_channels, 3, ConvGeometry::same(3));
    int64_t block_in = ch;
    for (size_t i = 0; i < levels; ++i) {
        const Weights lw = enc.sub("down").sub(static_cast<int>(i));
        VaeLevel level;
        const int64_t block_out = ch * cfg_.ch_mult[i];
        for (int j = 0; j < cfg_.num_res_blocks; ++j) {
            level.block.emplace_back(lw.sub("block").sub(j), block_in, block_out);
            block_in = block_out;
        }
        // ldm Downsample(with_conv=True): F.pad(x, (0, 1, 0, 1)), then a 3x3 conv, stride 2, no padding.
        if (i + 1 < levels) level.resample = conv(lw, "downsample.conv", block_in, block_in, 3, {2, {0, 0, 1, 1}});
        down_.push_back(std::move(level));
    }
    enc_mid_ = load_mid(enc.sub("mid"), block_in);
    enc_norm_out_ = enc.norm("norm_out", block_in);
    enc_conv_out_ = conv(enc, "conv_out", 2 * z, block_in, 3, ConvGeometry::same(3));
    quant_conv_ = conv1x1_as_linear(w, "quant_conv", 2 * e, 2 * z);
    post_quant_conv_ = conv1x1_as_linear(w, "post_quant_conv", z, e);
    // Decoder
    const Weights dec = w.sub("decoder");
    block_in = ch * cfg_.ch_mult.back();
    dec_conv_in_ = conv(dec, "conv_in", block_in, z, 3, ConvGeometry::same(3));
    dec_mid_ = load_mid(dec.sub("mid"), block_in);
    up_.resize(levels);
    for (size_t i = levels; i-- > 0;) {
        const Weights lw = dec.sub("up").sub(static_cast<int>(i));
        const int64_t block_out = ch * cfg_.ch_mult[i];
        for (int j = 0; j <= cfg_.num_res_blocks; ++j) {
            up_[i].block.emplace_back(lw.sub("block").sub(j), block_in, block_out);
            block_in = block_out;
        }
        if (i > 0) up_[i].resample = conv(lw, "upsample.conv", block_in, block_in, 3, ConvGeometry::same(3));
    }
    dec_norm_out_ = dec.norm("norm_out", block_in);
    dec_conv_out_ = conv(dec, "conv_out", cfg_.out_ch, block_in, 3, ConvGeometry::same(3));
}

Posterior AutoencoderKL::encode(const Tensor& image, Arena& a) const {
    if (image.ndim() != 4 || image.dim(1) != cfg_.in_channels)
        throw Error::make("VAE encoder input must be [N, {}, H, W], got {}", cfg_.in_channels, shape_str(image.shape()));
    if (image.dim(2) % downscale() != 0 || image.dim(3) % downscale() != 0)
        throw Error::make("image size {}x{} is not a multiple of {}", image.dim(3), image.dim(2), downscale());
    const Arena::Mark scratch = a.mark();
    const Arena::Mark base = a.mark();
    Tensor h = a.keep(base, enc_conv_in_.forward(nchw_to_nhwc(image, a), a));
    for (const auto& level : down_) {
        for (const auto& b : level.block) h = replace_at(a, base, [&] { return b.forward(h, a); });
        if (level.resample) h = replace_at(a, base, [&] { return level.resample->forward(h, a); });
    }
    h = enc_mid_.forward(h, a, nullptr, "");
    h = enc_conv_out_.forward(group_norm(enc_norm_out_, h, kLdmNormalizeEps, /*silu=*/true, a), a);
    Tensor moments = nhwc_to_nchw(quant_conv_.forward(h, a));  // [N, 2e, h, w]
    const int64_t e = cfg_.embed_dim;
    Posterior p{moments.slice(1, 0, e).contiguous(), moments.slice(1, e, 2 * e).contiguous()};
    for (float& v : p.logvar.f32_mut()) v = std::clamp(v, kLogvarMin, kLogvarMax);
    a.rewind(scratch);
    return p;
}

Tensor AutoencoderKL::decode(const Tensor& z, Arena& a, const VaeProbe& probe) const {
    if (z.ndim() != 4 || z.dim(1) != cfg_.embed_dim)
        throw Error::make("VAE decoder input must be [N, {}, h, w], got {}", cfg_.embed_dim, shape_str(z.shape()));
    const auto report = [&](const std::string& name, const Tensor& t) { if (probe) probe(name, t); };
    const Arena::Mark scratch = a.mark();
    Tensor h = post_quant_conv_.forward(nchw_to_nhwc(z, a), a);
    report("post_quant_conv", h);
    h = dec_conv_in_.forward(h, a);
    report("conv_in", h);
    const Arena::Mark base = a.mark();
    h = a.keep(base, dec_mid_.forward(h, a, probe, ""));
    for (size_t i = up_.size(); i-- > 0;) {
        for (const auto& b : up_[i].block) h = replace_at(a, base, [&] { return b.forward(h, a); });
        if (up_[i].resample)
            h = replace_at(a, base, [&] { return up_[i].resample->forward(upsample_nearest2x(h, a), a); });
        report("up." + std::to_string(i) + ".upsample", h);
    }
    h = dec_conv_out_.forward(group_norm(dec_norm_out_, h, kLdmNormalizeEps, /*silu=*/true, a), a);
    Tensor image = nhwc_to_nchw(h);
    a.rewind(scratch);
    return image;
}

}  // namespace difu
