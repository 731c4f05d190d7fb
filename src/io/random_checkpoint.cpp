#include "io/random_checkpoint.h"

#include <fmt/ranges.h>

#include "io/model_family.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/half.h"
#include "core/tensor.h"

namespace difu {
namespace {

// splitmix64: a tiny, fast, well-mixed generator; one stream per tensor, seeded by (seed, name).
struct SplitMix {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f; }  // [-1, 1)
};

uint64_t hash_name(const std::string& s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ddpm.py register_schedule with the 'linear' (scaled-linear) beta schedule, in double.
std::vector<double> schedule_buffer(const std::string& name, const ScheduleConfig& sc) {
    const int T = sc.timesteps;
    std::vector<double> betas(T), ac(T), acp(T);
    double prod = 1;
    for (int t = 0; t < T; ++t) {
        const double s = std::sqrt(sc.linear_start) + (std::sqrt(sc.linear_end) - std::sqrt(sc.linear_start)) * t / (T - 1);
        betas[t] = s * s;
        acp[t] = prod;
        prod *= 1 - betas[t];
        ac[t] = prod;
    }
    std::vector<double> out(T);
    for (int t = 0; t < T; ++t) {
        const double pv = betas[t] * (1 - acp[t]) / (1 - ac[t]);
        if (name == "betas") out[t] = betas[t];
        else if (name == "alphas_cumprod") out[t] = ac[t];
        else if (name == "alphas_cumprod_prev") out[t] = acp[t];
        else if (name == "sqrt_alphas_cumprod") out[t] = std::sqrt(ac[t]);
        else if (name == "sqrt_one_minus_alphas_cumprod") out[t] = std::sqrt(1 - ac[t]);
        else if (name == "log_one_minus_alphas_cumprod") out[t] = std::log(1 - ac[t]);
        else if (name == "sqrt_recip_alphas_cumprod") out[t] = std::sqrt(1 / ac[t]);
        else if (name == "sqrt_recipm1_alphas_cumprod") out[t] = std::sqrt(1 / ac[t] - 1);
        else if (name == "posterior_variance") out[t] = pv;
        else if (name == "posterior_log_variance_clipped") out[t] = std::log(std::max(pv, 1e-20));
        else if (name == "posterior_mean_coef1") out[t] = betas[t] * std::sqrt(acp[t]) / (1 - ac[t]);
        else if (name == "posterior_mean_coef2") out[t] = (1 - acp[t]) * std::sqrt(1 - betas[t]) / (1 - ac[t]);
        else throw Error::make("no schedule buffer '{}'", name);
    }
    return out;
}

// Float values of one tensor, by what its name says it is.
std::vector<float> random_values(const TensorSpec& spec, const ModelConfig& cfg, uint64_t seed) {
    const size_t n = static_cast<size_t>(shape_numel(spec.shape));
    std::vector<float> v(n);
    SplitMix rng{hash_name(spec.name, seed)};
    const bool is_buffer = spec.name.find('.') == std::string::npos;
    if (is_buffer) {
        auto d = schedule_buffer(spec.name, cfg.schedule);
        for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(d[i]);
    } else if (spec.name == "model_ema.decay") {
        v[0] = 0.9999f;
    } else if (spec.shape.empty()) {  // OpenCLIP's logit_scale, at its initial value ln(1 / 0.07)
        v[0] = std::log(1.0f / 0.07f);
    } else if (ends_with(spec.name, ".bias")) {
        for (auto& x : v) x = 0.02f * rng.uniform();
    } else if (spec.shape.size() == 1) {  // norm weights
        for (auto& x : v) x = 1.0f + 0.05f * rng.uniform();
    } else if (spec.name.find("embedding") != std::string::npos) {
        for (auto& x : v) x = 0.02f * rng.uniform() * 1.7320508f;  // std 0.02, CLIP's init
    } else {
        const int64_t fan_in = shape_numel(spec.shape) / spec.shape[0];
        const float a = 1.0f / std::sqrt(static_cast<float>(fan_in));
        for (auto& x : v) x = a * rng.uniform();
    }
    return v;
}

void write_tensor(FILE* f, const RandomTensorSpec& t, const ModelConfig& cfg, uint64_t seed) {
    const size_t n = static_cast<size_t>(shape_numel(t.spec.shape));
    std::vector<unsigned char> bytes(n * dtype_size(t.dtype));
    if (t.dtype == DType::I64) {
        for (size_t i = 0; i < n; ++i) { int64_t x = static_cast<int64_t>(i); std::memcpy(&bytes[i * 8], &x, 8); }
    } else if (t.dtype == DType::I32) {
        // model_ema.num_updates: 0
    } else {
        std::vector<float> v = random_values(t.spec, cfg, seed);
        auto* h = reinterpret_cast<uint16_t*>(bytes.data());
        if (t.dtype == DType::F32) std::memcpy(bytes.data(), v.data(), n * 4);
        else if (t.dtype == DType::F16) convert_f32_to_f16(v, {h, n});
        else if (t.dtype == DType::BF16) convert_f32_to_bf16(v, {h, n});
        else throw Error::make("make-random: unsupported dtype {}", dtype_name(t.dtype));
    }
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
        throw Error::make("write failed: {}", std::strerror(errno));
}

}  // namespace

ModelConfig architecture_config(const std::string& arch) {
    if (arch == "sd15") {
        ModelConfig c = family_config(describe(ModelFamily::SD1));
        c.unet.channel_mult = {1, 2, 4, 4};
        c.unet.transformer_depth = {1, 1, 1, 0};
        c.vae.ch_mult = {1, 2, 4, 4};
        c.config_source = "built-in architecture 'sd15'";
        return c;  // the defaults of UNetConfig / VaeConfig / TextConfig are SD 1.5's
    }
    if (arch == "tiny") {  // ../shared/fixtures/sd1-tiny's shapes
        ModelConfig c = family_config(describe(ModelFamily::SD1));
        c.unet.model_channels = 32;
        c.unet.channel_mult = {1, 2, 2};
        c.unet.num_res_blocks = 1;
        c.unet.transformer_depth = {1, 1, 0};
        c.unet.context_dim = 128;
        c.vae.ch = 32;
        c.vae.ch_mult = {1, 2, 2, 2};
        c.vae.num_res_blocks = 1;
        c.text().width = 128;
        c.text().layers = 2;
        c.text().heads = 2;
        c.text().intermediate = 512;
        c.config_source = "built-in architecture 'tiny'";
        return c;
    }
    if (arch == "sd21" || arch == "sd21-v") {  // v2-inference(-v).yaml: OpenCLIP ViT-H/14, 64 channels per head
        ModelConfig c = family_config(describe(ModelFamily::SD2));
        c.unet.channel_mult = {1, 2, 4, 4};
        c.unet.transformer_depth = {1, 1, 1, 0};
        c.unet.context_dim = 1024;
        c.unet.use_linear_in_transformer = true;
        c.vae.ch_mult = {1, 2, 4, 4};
        c.text().width = 1024;
        c.text().layers = 24;  // the last is unused (penultimate), but released files hold it
        c.text().heads = 16;
        c.text().intermediate = 4096;
        c.schedule.prediction = arch == "sd21-v" ? Prediction::V : Prediction::Eps;
        c.schedule.prediction_known = true;
        c.config_source = "built-in architecture '" + arch + "'";
        return c;
    }
    if (arch == "sdxl" || arch == "sdxl-refiner") {  // sgm's sd_xl_base.yaml / sd_xl_refiner.yaml
        const bool base = arch == "sdxl";
        ModelConfig c = family_config(describe(base ? ModelFamily::SDXL : ModelFamily::SDXLRefiner));
        c.unet.model_channels = base ? 320 : 384;
        c.unet.channel_mult = base ? std::vector<int>{1, 2, 4} : std::vector<int>{1, 2, 4, 4};
        c.unet.transformer_depth = base ? std::vector<int>{0, 2, 10} : std::vector<int>{0, 4, 4, 0};
        c.unet.middle_transformer_depth = base ? 10 : 4;
        c.unet.context_dim = base ? 2048 : 1280;
        c.unet.adm_in_channels = base ? 2816 : 2560;  // pooled 1280 + 6 (base) or 5 (refiner) x 256
        c.unet.use_linear_in_transformer = true;
        c.vae.ch_mult = {1, 2, 4, 4};
        for (TextConfig& t : c.text_encoders) {
            if (t.naming == TextConfig::Naming::HuggingFace) continue;  // CLIP ViT-L: the defaults
            t.width = 1280;  // OpenCLIP ViT-bigG/14
            t.layers = 32;
            t.heads = 20;
            t.intermediate = 5120;
            t.pooled_dim = 1280;
        }
        c.config_source = "built-in architecture '" + arch + "'";
        return c;
    }
    throw Error::make("unknown architecture '{}' (known: {})", arch, fmt::join(architecture_names(), ", "));
}

std::vector<std::string> architecture_names() { return {"sd15", "tiny", "sd21", "sd21-v", "sdxl", "sdxl-refiner"}; }

std::vector<RandomTensorSpec> random_checkpoint_layout(const ModelConfig& cfg, DType float_dtype) {
    std::vector<RandomTensorSpec> out;
    for (auto& spec : expected_tensors(cfg)) {
        DType dt = float_dtype;
        if (ends_with(spec.name, "position_ids")) dt = DType::I64;
        if (spec.name == "model_ema.num_updates") dt = DType::I32;
        out.push_back({std::move(spec), dt});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
    return out;
}

void write_random_checkpoint(const std::string& path, const ModelConfig& cfg, DType float_dtype, uint64_t seed) {
    if (float_dtype != DType::F32 && float_dtype != DType::F16 && float_dtype != DType::BF16)
        throw Error::make("make-random writes F32, F16 or BF16 weights, not {}", dtype_name(float_dtype));
    auto layout = random_checkpoint_layout(cfg, float_dtype);
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    header["__metadata__"] = {{"format", "pt"}, {"difu", "random weights (make-random); not a trained model"}};
    uint64_t offset = 0;
    for (const auto& t : layout) {
        const uint64_t bytes = static_cast<uint64_t>(shape_numel(t.spec.shape)) * dtype_size(t.dtype);
        header[t.spec.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.spec.shape},
                               {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw Error::at(path, "cannot create: {}", std::strerror(errno));
    const uint64_t n = h.size();
    if (std::fwrite(&n, 8, 1, f.get()) != 1 || std::fwrite(h.data(), 1, h.size(), f.get()) != h.size())
        throw Error::at(path, "write failed: {}", std::strerror(errno));
    try {
        for (const auto& t : layout) write_tensor(f.get(), t, cfg, seed);
    } catch (const Error& e) {
        throw Error::at(path, "{}", e.what());
    }
    if (std::fflush(f.get()) != 0) throw Error::at(path, "write failed: {}", std::strerror(errno));
}

}  // namespace difu
