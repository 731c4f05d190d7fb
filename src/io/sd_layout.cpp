// io/sd_layout.cpp — the full key layout of an LDM single-file checkpoint for a configuration:
// every tensor name and shape the original modules (openaimodel.UNetModel, AutoencoderKL,
// FrozenCLIPEmbedder / FrozenOpenCLIPEmbedder, DDPM buffers) register. make-random writes exactly
// this; check_keys compares a file against it.
#include <set>

#include "io/model_config.h"
#include "io/model_family.h"

namespace difu {
namespace {

using Specs = std::vector<TensorSpec>;
int64_t I(int v) { return static_cast<int64_t>(v); }

void add(Specs& s, const std::string& name, Shape shape, bool required = true) {
    s.push_back({name, std::move(shape), required});
}
void norm(Specs& s, const std::string& p, int c) {
    add(s, p + ".weight", {I(c)});
    add(s, p + ".bias", {I(c)});
}
void conv(Specs& s, const std::string& p, int cout, int cin, int k) {
    add(s, p + ".weight", {I(cout), I(cin), I(k), I(k)});
    add(s, p + ".bias", {I(cout)});
}
void linear(Specs& s, const std::string& p, int cout, int cin, bool bias = true) {
    add(s, p + ".weight", {I(cout), I(cin)});
    if (bias) add(s, p + ".bias", {I(cout)});
}

// openaimodel.ResBlock: in_layers (GN, SiLU, conv), emb_layers (SiLU, linear), out_layers (GN, SiLU, dropout, conv)
void unet_res_block(Specs& s, const std::string& p, int cin, int cout, int emb) {
    norm(s, p + "in_layers.0", cin);
    conv(s, p + "in_layers.2", cout, cin, 3);
    linear(s, p + "emb_layers.1", cout, emb);
    norm(s, p + "out_layers.0", cout);
    conv(s, p + "out_layers.3", cout, cout, 3);
    if (cin != cout) conv(s, p + "skip_connection", cout, cin, 1);
}

// attention.SpatialTransformer with `depth` BasicTransformerBlocks (self-attn, cross-attn, GEGLU).
void spatial_transformer(Specs& s, const std::string& p, int c, int depth, int context, bool linear_proj) {
    const int inner = c;  // heads * dim_head == channels in every SD family
    norm(s, p + "norm", c);
    if (linear_proj) linear(s, p + "proj_in", inner, c); else conv(s, p + "proj_in", inner, c, 1);
    for (int d = 0; d < depth; ++d) {
        const std::string b = p + "transformer_blocks." + std::to_string(d) + ".";
        for (const char* attn : {"attn1", "attn2"}) {
            const int kv = std::string(attn) == "attn1" ? c : context;
            linear(s, b + attn + ".to_q", inner, c, false);
            linear(s, b + attn + ".to_k", inner, kv, false);
            linear(s, b + attn + ".to_v", inner, kv, false);
            linear(s, b + attn + ".to_out.0", c, inner);
        }
        linear(s, b + "ff.net.0.proj", inner * 4 * 2, c);  // GEGLU: value and gate halves
        linear(s, b + "ff.net.2", c, inner * 4);
        for (const char* n : {"norm1", "norm2", "norm3"}) norm(s, b + n, c);
    }
    if (linear_proj) linear(s, p + "proj_out", c, inner); else conv(s, p + "proj_out", c, inner, 1);
}

void unet_layout(Specs& s, const std::string& p, const UNetConfig& u) {
    const int mc = u.model_channels, emb = 4 * mc;
    linear(s, p + "time_embed.0", emb, mc);
    linear(s, p + "time_embed.2", emb, emb);
    if (u.adm_in_channels > 0) {
        linear(s, p + "label_emb.0.0", emb, u.adm_in_channels);
        linear(s, p + "label_emb.0.2", emb, emb);
    }
    conv(s, p + "input_blocks.0.0", mc, u.in_channels, 3);
    std::vector<int> skips{mc};
    int ch = mc, k = 1;
    const size_t levels = u.channel_mult.size();
    for (size_t l = 0; l < levels; ++l) {
        for (int r = 0; r < u.num_res_blocks; ++r, ++k) {
            const std::string b = p + "input_blocks." + std::to_string(k) + ".";
            const int out = u.channel_mult[l] * mc;
            unet_res_block(s, b + "0.", ch, out, emb);
            ch = out;
            if (u.transformer_depth[l] > 0)
                spatial_transformer(s, b + "1.", ch, u.transformer_depth[l], u.context_dim, u.use_linear_in_transformer);
            skips.push_back(ch);
        }
        if (l + 1 < levels) {
            conv(s, p + "input_blocks." + std::to_string(k++) + ".0.op", ch, ch, 3);
            skips.push_back(ch);
        }
    }
    unet_res_block(s, p + "middle_block.0.", ch, ch, emb);
    if (u.middle_transformer_depth > 0) {
        spatial_transformer(s, p + "middle_block.1.", ch, u.middle_transformer_depth, u.context_dim,
                            u.use_linear_in_transformer);
        unet_res_block(s, p + "middle_block.2.", ch, ch, emb);
    } else {
        unet_res_block(s, p + "middle_block.1.", ch, ch, emb);
    }
    k = 0;
    for (size_t l = levels; l-- > 0;) {
        for (int r = 0; r <= u.num_res_blocks; ++r, ++k) {
            const std::string b = p + "output_blocks." + std::to_string(k) + ".";
            const int out = u.channel_mult[l] * mc;
            const int skip = skips.back();
            skips.pop_back();
            unet_res_block(s, b + "0.", ch + skip, out, emb);
            ch = out;
            int sub = 1;
            if (u.transformer_depth[l] > 0)
                spatial_transformer(s, b + std::to_string(sub++) + ".", ch, u.transformer_depth[l], u.context_dim,
                                    u.use_linear_in_transformer);
            if (l > 0 && r == u.num_res_blocks) conv(s, b + std::to_string(sub) + ".conv", ch, ch, 3);
        }
    }
    norm(s, p + "out.0", mc);
    conv(s, p + "out.2", u.out_channels, mc, 3);
}

// model.py ResnetBlock (no time embedding in the VAE) and AttnBlock (1x1-conv q, k, v, proj_out).
void vae_res_block(Specs& s, const std::string& p, int cin, int cout) {
    norm(s, p + "norm1", cin);
    conv(s, p + "conv1", cout, cin, 3);
    norm(s, p + "norm2", cout);
    conv(s, p + "conv2", cout, cout, 3);
    if (cin != cout) conv(s, p + "nin_shortcut", cout, cin, 1);
}
void vae_attn_block(Specs& s, const std::string& p, int c) {
    norm(s, p + "norm", c);
    for (const char* n : {"q", "k", "v", "proj_out"}) conv(s, p + n, c, c, 1);
}
void vae_mid(Specs& s, const std::string& p, int c) {
    vae_res_block(s, p + "mid.block_1.", c, c);
    vae_attn_block(s, p + "mid.attn_1.", c);
    vae_res_block(s, p + "mid.block_2.", c, c);
}

void vae_layout(Specs& s, const std::string& p, const VaeConfig& v) {
    const size_t levels = v.ch_mult.size();
    // Encoder
    conv(s, p + "encoder.conv_in", v.ch, v.in_channels, 3);
    int block_in = v.ch;
    for (size_t i = 0; i < levels; ++i) {
        const int block_out = v.ch * v.ch_mult[i];
        for (int j = 0; j < v.num_res_blocks; ++j) {
            vae_res_block(s, p + "encoder.down." + std::to_string(i) + ".block." + std::to_string(j) + ".", block_in, block_out);
            block_in = block_out;
        }
        if (i + 1 < levels) conv(s, p + "encoder.down." + std::to_string(i) + ".downsample.conv", block_in, block_in, 3);
    }
    vae_mid(s, p + "encoder.", block_in);
    norm(s, p + "encoder.norm_out", block_in);
    conv(s, p + "encoder.conv_out", 2 * v.z_channels, block_in, 3);
    conv(s, p + "quant_conv", 2 * v.embed_dim, 2 * v.z_channels, 1);
    conv(s, p + "post_quant_conv", v.z_channels, v.embed_dim, 1);
    // Decoder
    block_in = v.ch * v.ch_mult.back();
    conv(s, p + "decoder.conv_in", block_in, v.z_channels, 3);
    vae_mid(s, p + "decoder.", block_in);
    for (size_t i = levels; i-- > 0;) {
        const int block_out = v.ch * v.ch_mult[i];
        for (int j = 0; j <= v.num_res_blocks; ++j) {
            vae_res_block(s, p + "decoder.up." + std::to_string(i) + ".block." + std::to_string(j) + ".", block_in, block_out);
            block_in = block_out;
        }
        if (i > 0) conv(s, p + "decoder.up." + std::to_string(i) + ".upsample.conv", block_in, block_in, 3);
    }
    norm(s, p + "decoder.norm_out", block_in);
    conv(s, p + "decoder.conv_out", v.out_ch, block_in, 3);
}

void text_layout_hf(Specs& s, const std::string& p, const TextConfig& t) {
    add(s, p + "embeddings.token_embedding.weight", {I(t.vocab_size), I(t.width)});
    add(s, p + "embeddings.position_embedding.weight", {I(t.context_length), I(t.width)});
    add(s, p + "embeddings.position_ids", {1, I(t.context_length)}, false);  // arange buffer, recomputed
    for (int l = 0; l < t.layers; ++l) {
        const std::string b = p + "encoder.layers." + std::to_string(l) + ".";
        for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(s, b + "self_attn." + n, t.width, t.width);
        norm(s, b + "layer_norm1", t.width);
        norm(s, b + "layer_norm2", t.width);
        linear(s, b + "mlp.fc1", t.intermediate, t.width);
        linear(s, b + "mlp.fc2", t.width, t.intermediate);
    }
    norm(s, p + "final_layer_norm", t.width);
}

void text_layout_openclip(Specs& s, const std::string& p, const TextConfig& t) {
    add(s, p + "token_embedding.weight", {I(t.vocab_size), I(t.width)});
    add(s, p + "positional_embedding", {I(t.context_length), I(t.width)});
    for (int l = 0; l < t.layers; ++l) {
        const std::string b = p + "transformer.resblocks." + std::to_string(l) + ".";
        add(s, b + "attn.in_proj_weight", {I(3 * t.width), I(t.width)});
        add(s, b + "attn.in_proj_bias", {I(3 * t.width)});
        linear(s, b + "attn.out_proj", t.width, t.width);
        norm(s, b + "ln_1", t.width);
        norm(s, b + "ln_2", t.width);
        linear(s, b + "mlp.c_fc", t.intermediate, t.width);
        linear(s, b + "mlp.c_proj", t.width, t.intermediate);
    }
    norm(s, p + "ln_final", t.width);
    // The image-text head: SD 2.x does not use it ([width, width] in its files); SDXL's bigG pools through it.
    add(s, p + "text_projection", {I(t.width), I(t.pooled_dim > 0 ? t.pooled_dim : t.width)}, t.pooled_dim > 0);
    add(s, p + "logit_scale", {}, false);
}

// DDPM.register_schedule buffers, and LitEma's counters: in released files, not needed to sample.
void schedule_buffers(Specs& s, int timesteps, bool ema_counters) {
    for (const char* n : {"betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                          "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                          "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                          "posterior_mean_coef1", "posterior_mean_coef2"})
        add(s, n, {I(timesteps)}, false);
    if (!ema_counters) return;
    add(s, "model_ema.decay", {}, false);
    add(s, "model_ema.num_updates", {}, false);
}

bool ignorable(const std::string& name) {
    // EMA copies of the UNet ("model_ema.diffusion_modelinput_blocks00weight") and training-only buffers.
    return name.rfind("model_ema.", 0) == 0 || name == "logvar" || name == "lvlb_weights";
}

}  // namespace

std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg) {
    Specs s;
    unet_layout(s, cfg.unet_prefix, cfg.unet);
    vae_layout(s, cfg.vae_prefix, cfg.vae);
    for (const TextConfig& t : cfg.text_encoders) {
        if (t.naming == TextConfig::Naming::HuggingFace) text_layout_hf(s, t.prefix, t);
        else text_layout_openclip(s, t.prefix, t);
    }
    const FamilyDescription& family = describe(cfg.family);
    if (family.schedule_buffers) schedule_buffers(s, cfg.schedule.timesteps, family.ema_counters);
    return s;
}

KeyReport check_keys(const Checkpoint& ck, const ModelConfig& cfg) {
    KeyReport r;
    std::set<std::string> expected;
    for (const auto& spec : expected_tensors(cfg)) {
        expected.insert(spec.name);
        auto it = ck.tensors.find(spec.name);
        if (it == ck.tensors.end()) {
            if (spec.required) r.missing.push_back(spec.name);
            continue;
        }
        if (it->second.shape() != spec.shape) {
            r.wrong_shape.push_back(fmt::format("{}: file {}, expected {}", spec.name, shape_str(it->second.shape()),
                                                shape_str(spec.shape)));
            continue;
        }
        ++r.used;
    }
    for (const auto& [name, t] : ck.tensors) {
        if (expected.count(name)) continue;
        if (ignorable(name)) ++r.ignored;
        else r.unknown.push_back(name);
    }
    return r;
}

}  // namespace difu
