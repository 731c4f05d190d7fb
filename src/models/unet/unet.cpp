#include "models/unet/unet.h"

#include "kernels/group_norm.h"
#include "models/unet/timestep_embedding.h"

namespace difu {

UNetModel::UNetModel(const Checkpoint& ck, const ModelConfig& cfg, Precision precision) : cfg_(cfg.unet) {
    if (!cfg.supported()) throw Error::at(ck.path, "{}", cfg.unsupported_reason());
    const Weights w(ck, cfg.unet_prefix, precision);
    const int64_t mc = cfg_.model_channels, emb = 4 * mc, ctx = cfg_.context_dim;
    const bool linear_proj = cfg_.use_linear_in_transformer;
    time_embed_0_ = w.linear("time_embed.0", emb, mc);
    time_embed_2_ = w.linear("time_embed.2", emb, emb);
    if (cfg_.adm_in_channels > 0) {  // num_classes "sequential": label_emb = Sequential(Linear, SiLU, Linear)
        label_emb_0_0_ = w.linear("label_emb.0.0", emb, cfg_.adm_in_channels);
        label_emb_0_2_ = w.linear("label_emb.0.2", emb, emb);
    }

    // The same walk over levels as the original's __init__ (and io/sd_layout.cpp).
    auto transformer = [&](const Weights& tw, int64_t ch, int depth) {
        return SpatialTransformer(tw, ch, cfg_.heads_for(static_cast<int>(ch)), depth, ctx, linear_proj);
    };
    const Weights in = w.sub("input_blocks");
    input_blocks_.push_back({conv(in.sub(0), "0", mc, cfg_.in_channels, 3, ConvGeometry::same(3))});
    std::vector<int64_t> skips{mc};
    int64_t ch = mc;
    int k = 1;
    const size_t levels = cfg_.channel_mult.size();
    for (size_t l = 0; l < levels; ++l) {
        for (int r = 0; r < cfg_.num_res_blocks; ++r, ++k) {
            const int64_t out = cfg_.channel_mult[l] * mc;
            Block b;
            b.emplace_back(ResBlock(in.sub(k).sub(0), ch, out, emb));
            ch = out;
            if (cfg_.transformer_depth[l] > 0) b.emplace_back(transformer(in.sub(k).sub(1), ch, cfg_.transformer_depth[l]));
            input_blocks_.push_back(std::move(b));
            skips.push_back(ch);
        }
        if (l + 1 < levels) {
            input_blocks_.push_back({Downsample(in.sub(k++).sub(0), ch)});
            skips.push_back(ch);
        }
    }
    const Weights mid = w.sub("middle_block");
    middle_block_.emplace_back(ResBlock(mid.sub(0), ch, ch, emb));
    if (cfg_.middle_transformer_depth > 0) {
        middle_block_.emplace_back(transformer(mid.sub(1), ch, cfg_.middle_transformer_depth));
        middle_block_.emplace_back(ResBlock(mid.sub(2), ch, ch, emb));
    } else {
        middle_block_.emplace_back(ResBlock(mid.sub(1), ch, ch, emb));
    }
    const Weights outw = w.sub("output_blocks");
    k = 0;
    for (size_t l = levels; l-- > 0;) {
        for (int r = 0; r <= cfg_.num_res_blocks; ++r, ++k) {
            const int64_t out = cfg_.channel_mult[l] * mc;
            Block b;
            b.emplace_back(ResBlock(outw.sub(k).sub(0), ch + skips.back(), out, emb));
            skips.pop_back();
            ch = out;
            int sub = 1;
            if (cfg_.transformer_depth[l] > 0) b.emplace_back(transformer(outw.sub(k).sub(sub++), ch, cfg_.transformer_depth[l]));
            if (l > 0 && r == cfg_.num_res_blocks) b.emplace_back(Upsample(outw.sub(k).sub(sub), ch));
            output_blocks_.push_back(std::move(b));
        }
    }
    out_0_ = w.norm("out.0", mc);
    out_2_ = conv(w, "out.2", cfg_.out_channels, mc, 3, ConvGeometry::same(3));
}

Tensor UNetModel::run_block(const Block& block, Tensor h, const Tensor& silu_emb, const Tensor& context, Arena& a) const {
    for (const Layer& layer : block) {
        const Arena::Mark before = a.mark();  // the layer's temporaries are freed, its output kept
        h = std::visit(
            [&](const auto& m) -> Tensor {
                using M = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<M, ResBlock>) return m.forward(h, silu_emb, a);
                else if constexpr (std::is_same_v<M, SpatialTransformer>) return m.forward(h, context, a);
                else return m.forward(h, a);  // Conv2d, Downsample, Upsample
            },
            layer);
        h = a.keep(before, h);
    }
    return h;
}

Tensor UNetModel::forward(const Tensor& x, std::span<const float> timesteps, const Tensor& context, Arena& a,
                          const UNetProbe& probe) const {
    return forward(x, timesteps, context, Tensor(), a, probe);
}

Tensor UNetModel::forward(const Tensor& x, std::span<const float> timesteps, const Tensor& context, const Tensor& y,
                          Arena& a, const UNetProbe& probe) const {
    const int64_t n = x.dim(0), mult = size_multiple();
    if (x.ndim() != 4 || x.dim(1) != cfg_.in_channels)
        throw Error::make("UNet input must be [N, {}, H, W], got {}", cfg_.in_channels, shape_str(x.shape()));
    if (x.dim(2) % mult != 0 || x.dim(3) % mult != 0)
        throw Error::make("latent size {}x{} is not a multiple of {} (image size not a multiple of {})", x.dim(3),
                          x.dim(2), mult, 8 * mult);
    if (static_cast<int64_t>(timesteps.size()) != n) throw Error::make("UNet needs one timestep per sample");
    if (context.ndim() != 3 || context.dim(0) != n || context.dim(2) != cfg_.context_dim)
        throw Error::make("UNet context must be [{}, L, {}], got {}", n, cfg_.context_dim, shape_str(context.shape()));
    if (cfg_.adm_in_channels > 0 && (!y.defined() || y.ndim() != 2 || y.dim(0) != n || y.dim(1) != cfg_.adm_in_channels))
        throw Error::make("this UNet needs its vector conditioning y [{}, {}], got {}", n, cfg_.adm_in_channels,
                          y.defined() ? shape_str(y.shape()) : "none");
    const auto report = [&](const std::string& name, const Tensor& t) { if (probe) probe(name, t); };
    const Arena::Mark scratch = a.mark();
    Tensor ctx = context.dtype() == DType::F32 ? context.contiguous() : context.to(DType::F32);

    Tensor t_emb = timestep_embedding(timesteps, cfg_.model_channels);
    report("t_emb", t_emb);
    Tensor emb = time_embed_2_.forward(silu(time_embed_0_.forward(t_emb, a), a), a);
    report("time_embed", emb);
    if (cfg_.adm_in_channels > 0) {  // emb = emb + label_emb(y)
        Tensor label = label_emb_0_2_.forward(silu(label_emb_0_0_.forward(y.contiguous(), a), a), a);
        report("label_emb", label);
        add_inplace(emb, label);
    }
    report("emb", emb);
    const Tensor silu_emb = silu(emb, a);  // every ResBlock starts its emb_layers with SiLU

    Tensor h = nchw_to_nhwc(x, a);
    // The skips are a stack in the arena too: each output block's result moves down to where the
    // skip it consumed began, so the output half frees as it goes instead of piling up (at 64x64
    // that pile was 270 MB).
    std::vector<Tensor> skips;
    std::vector<Arena::Mark> skip_marks;
    for (size_t i = 0; i < input_blocks_.size(); ++i) {
        skip_marks.push_back(a.mark());
        h = run_block(input_blocks_[i], h, silu_emb, ctx, a);
        report("input_blocks." + std::to_string(i), h);
        skips.push_back(h);
    }
    h = run_block(middle_block_, h, silu_emb, ctx, a);
    report("middle_block", h);
    for (size_t i = 0; i < output_blocks_.size(); ++i) {
        h = run_block(output_blocks_[i], concat_channels(h, skips.back(), a), silu_emb, ctx, a);
        h = a.keep(skip_marks.back(), h);
        skips.pop_back();
        skip_marks.pop_back();
        report("output_blocks." + std::to_string(i), h);
    }
    h = out_2_.forward(group_norm(out_0_, h, kUNetGroupNormEps, /*silu=*/true, a), a);
    Tensor eps = nhwc_to_nchw(h);
    a.rewind(scratch);
    return eps;
}

}  // namespace difu
