// cli/bench_command.cpp — `difu bench`: seconds and GFLOP/s of each model component at SD size,
// next to what oneDNN alone reaches on representative shapes measured in the same run, so the
// ratio means the same on any machine. Not a test: numbers go to BENCHMARKS.md.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "cli/commands.h"
#include "core/threads.h"
#include "io/checkpoint.h"
#include "io/random_checkpoint.h"
#include "kernels/conv2d.h"
#include "kernels/flops.h"
#include "kernels/linear.h"
#include "kernels/precision.h"
#include "kernels/profile.h"
#include "models/text_encoders.h"
#include "models/unet/unet.h"
#include "models/vae/tiled_vae.h"
#include "pipeline/pipeline.h"

namespace difu::cli {
namespace {

struct Measurement {
    double seconds = 0, gflop = 0;
    double total_seconds = 0;  // all timed repetitions (what the kernel profile covers)
    double gflops() const { return seconds > 0 ? gflop / seconds : 0; }
};

// Runs `fn` once to warm up (JIT, weight reorders, page faults), then `reps` times; best time.
Measurement measure(const std::function<void()>& fn, int reps) {
    fn();
    kernel_profile().reset();
    Measurement best;
    double total = 0;
    for (int r = 0; r < reps; ++r) {
        const uint64_t f0 = flop_counter().load();
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double g = static_cast<double>(flop_counter().load() - f0) / 1e9;
        total += s;
        if (best.seconds == 0 || s < best.seconds) best = {s, g};
    }
    best.total_seconds = total;
    return best;
}

Tensor random_tensor(Shape shape, uint32_t seed, float scale = 1.0f) {
    Tensor t = Tensor::empty(std::move(shape));
    std::mt19937 gen(seed);
    std::normal_distribution<float> d(0.0f, scale);
    for (float& v : t.f32_mut()) v = d(gen);
    return t;
}

double peak_rss_mb() {
    struct rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

// oneDNN by itself on the shapes the issue names.
struct Reference {
    double unet_conv = 0, vae_conv = 0, matmul = 0;  // GFLOP/s
};

Reference measure_reference(int reps, Precision p) {
    Reference r;
    Arena a;
    {
        Conv2d c(random_tensor({320, 320, 3, 3}, 1, 0.02f), random_tensor({320}, 2), ConvGeometry::same(3), p);
        Tensor x = random_tensor({2, 64, 64, 320}, 3);
        r.unet_conv = measure([&] { a.reset(); c.forward(x, a); }, reps).gflops();
    }
    {
        Conv2d c(random_tensor({128, 128, 3, 3}, 4, 0.03f), random_tensor({128}, 5), ConvGeometry::same(3), p);
        Tensor x = random_tensor({1, 512, 512, 128}, 6);
        r.vae_conv = measure([&] { a.reset(); c.forward(x, a); }, reps).gflops();
    }
    {
        Linear l(random_tensor({2560, 320}, 7, 0.05f), random_tensor({2560}, 8), p);
        Tensor x = random_tensor({8192, 320}, 9);
        r.matmul = measure([&] { a.reset(); l.forward(x, a); }, reps).gflops();
    }
    return r;
}

struct Options {
    std::string model, component = "all", precision = "auto";
    int size = 0, reps = 3, steps = 20;  // size 0: the model's default; reps: best of 3, like the reference rates
    int vae_tile = 0, vae_overlap = 128;  // image pixels; tile 0: the VAE decodes untiled
    bool tile_error = false;              // also decode untiled once and print the tiled result's error
    bool json = false, profile = false;
};

// One component's figures, printed once the reference rates of the whole run are known.
struct Result {
    std::string component, ref_name;
    Measurement m;
    double Reference::*ref = nullptr;  // which reference rate it is compared with
    double peak_rss_mb = 0, activations_mb = 0;
    KernelProfile profile;  // the timed repetitions' time per kernel kind
};

Result result_of(std::string component, const Measurement& m, double Reference::*ref, std::string ref_name,
                 const Arena& arena) {
    return {std::move(component), std::move(ref_name), m, ref, peak_rss_mb(), arena.high_water() / 1e6, kernel_profile()};
}

// Share of the timed repetitions' wall time per kernel kind (the rest: glue, copies, conversions).
void print_profile(const Result& r) {
    std::string line = "    time share:";
    double sum = 0;
    for (size_t k = 0; k < r.profile.seconds.size(); ++k) {
        line += fmt::format(" {} {:.0f}%", kernel_kind_name(static_cast<KernelKind>(k)),
                            100 * r.profile.seconds[k] / r.m.total_seconds);
        sum += r.profile.seconds[k];
    }
    fmt::print("{}, other {:.0f}%\n", line, 100 * (1 - sum / r.m.total_seconds));
}

void report(const Options& o, const Result& r, const Reference& reference) {
    const double ref = reference.*r.ref, ratio = ref > 0 ? r.m.gflops() / ref : 0;
    if (o.json) {
        nlohmann::ordered_json j{{"component", r.component}, {"precision", o.precision}, {"seconds", r.m.seconds},
                                 {"gflop", r.m.gflop}, {"gflops", r.m.gflops()}, {"ref_gflops", ref},
                                 {"ratio", ratio}, {"peak_rss_mb", r.peak_rss_mb}, {"activations_mb", r.activations_mb}};
        fmt::print("{}\n", j.dump());
        return;
    }
    fmt::print("{:<14} {:>8.3f} s {:>9.1f} GFLOP {:>8.1f} GFLOP/s  = {:>5.1f} % of oneDNN {} ({:.1f} GFLOP/s)  "
               "peak RSS {:.0f} MB (activations {:.0f} MB)\n",
               r.component, r.m.seconds, r.m.gflop, r.m.gflops(), 100 * ratio, r.ref_name, ref, r.peak_rss_mb,
               r.activations_mb);
    if (o.profile) print_profile(r);
}

std::string default_model() {
    const std::string path = (std::filesystem::temp_directory_path() / "difu-bench-sd15-f16.safetensors").string();
    if (!std::filesystem::exists(path)) {
        fmt::print(stderr, "bench: writing a random-weight SD 1.5 checkpoint to {} (once)\n", path);
        write_random_checkpoint(path, architecture_config("sd15"), DType::F16, 0);
    }
    return path;
}

// The whole run as `difu generate` does it (one model at a time, load included), then in the same
// process its parts as the component benches measure them: text + steps x UNet CFG step + VAE decode.
void run_txt2img(const Options& o, const PrecisionChoice& choice) {
    const auto t0 = std::chrono::steady_clock::now();
    double whole = 0, peak_mb = 0;
    {
        DiffusionPipeline pipe(o.model, choice.precision, ModelResidency::OneAtATime);
        GenerateRequest r;
        r.prompt = "an astronaut riding a horse";
        r.width = r.height = o.size;
        r.steps = o.steps;
        r.sampler = "DPM++ 2M Karras";
        r.seed = 42;
        pipe.generate(r);
        whole = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        peak_mb = peak_rss_mb();
    }
    Checkpoint ck = load_checkpoint(o.model);
    ModelConfig cfg = detect_model(ck);
    const int64_t lat = o.size / 8;
    double parts = 0;
    {
        Arena arena;
        std::optional<TextEncoders> clip;
        { SerialScope serial; clip.emplace(ck, cfg, choice.precision); }
        std::vector<int> ids(77, 49407);
        ids[0] = 49406;
        parts += 2 * measure([&] { for (const ClipTextModel* m : clip->all()) m->encode(ids, 1, 1, arena); }, o.reps)
                         .seconds;  // prompt and negative prompt
    }
    {
        Arena arena;
        std::optional<UNetModel> unet;
        { SerialScope serial; unet.emplace(ck, cfg, choice.precision); }
        Tensor x = random_tensor({2, 4, lat, lat}, 10), ctx = random_tensor({2, 77, cfg.unet.context_dim}, 11);
        std::vector<float> t{500.0f, 500.0f};
        Tensor y = cfg.unet.adm_in_channels > 0 ? random_tensor({2, cfg.unet.adm_in_channels}, 12) : Tensor();
        parts += o.steps * measure([&] { unet->forward(x, t, ctx, y, arena); }, o.reps).seconds;
    }
    {
        Arena arena;
        std::optional<AutoencoderKL> vae;
        { SerialScope serial; vae.emplace(ck, cfg, choice.precision); }
        Tensor z = random_tensor({1, 4, lat, lat}, 12);
        parts += measure([&] { vae->decode(z, arena); }, o.reps).seconds;
    }
    if (o.json) {
        nlohmann::ordered_json j{{"component", "txt2img"}, {"precision", o.precision}, {"steps", o.steps},
                                 {"seconds", whole}, {"parts_seconds", parts}, {"ratio", whole / parts},
                                 {"peak_rss_mb", peak_mb}};
        fmt::print("{}\n", j.dump());
        return;
    }
    fmt::print("txt2img {} steps DPM++ 2M Karras, load included: {:.2f} s; its parts (text + {} x UNet step + VAE) "
               "{:.2f} s: {:.3f}x; peak RSS {:.0f} MB\n", o.steps, whole, o.steps, parts, whole / parts, peak_mb);
}

void run_bench(Options o) {
    if (o.model.empty()) o.model = default_model();
    if (o.size == 0) o.size = detect_model(load_checkpoint(o.model)).default_size();  // the header only (mmap)
    if (o.size % 8 != 0 || o.size < 64) throw Error::make("--size must be a multiple of 8 and at least 64, got {}", o.size);
    const PrecisionChoice choice = choose_precision(o.precision);
    o.precision = std::string(precision_name(choice.precision));
    const bool all = o.component == "all";
    if (!all && o.component != "unet" && o.component != "vae" && o.component != "text" && o.component != "txt2img")
        throw Error::make("--component must be unet, vae, text, all or txt2img, not '{}'", o.component);
    if (o.steps < 1) throw Error::make("--steps must be at least 1, got {}", o.steps);
    if (!o.json)
        fmt::print("difu bench: {}, {} threads, {}x{}, precision {}, model {}\n", cpu_model(), num_threads(), o.size,
                   o.size, choice.reason, o.model);
    if (o.component == "txt2img") return run_txt2img(o, choice);
    // oneDNN's rates before and after difu's own runs, the best of each: on a shared machine a burst
    // of contention in one reference measurement would otherwise flatter every ratio.
    const int ref_reps = std::max(o.reps, 3);  // short runs
    Reference ref = measure_reference(ref_reps, choice.precision);
    std::vector<Result> results;
    kernel_profile().enabled = o.profile;
    Checkpoint ck = load_checkpoint(o.model);
    ModelConfig cfg = detect_model(ck);
    const int64_t lat = o.size / 8;
    if (all || o.component == "text") {
        Arena arena;
        std::optional<TextEncoders> built;
        { SerialScope serial; built.emplace(ck, cfg, choice.precision); }
        const TextEncoders& text = *built;
        std::vector<int> ids(2 * 77, 49407);
        ids[0] = ids[77] = 49406;
        results.push_back(result_of("text (batch 2)", measure([&] { for (const ClipTextModel* m : text.all()) m->encode(ids, 2, 1, arena); }, o.reps),
                                    &Reference::matmul, "matmul", arena));
    }
    if (all || o.component == "unet") {
        Arena arena;
        std::optional<UNetModel> built;
        { SerialScope serial; built.emplace(ck, cfg, choice.precision); }
        const UNetModel& unet = *built;
        Tensor x = random_tensor({2, 4, lat, lat}, 10);
        Tensor ctx = random_tensor({2, 77, cfg.unet.context_dim}, 11);
        std::vector<float> t{500.0f, 500.0f};
        Tensor y = cfg.unet.adm_in_channels > 0 ? random_tensor({2, cfg.unet.adm_in_channels}, 12) : Tensor();
        results.push_back(result_of("unet CFG step", measure([&] { unet.forward(x, t, ctx, y, arena); }, o.reps),
                                    &Reference::unet_conv, "UNet conv", arena));
    }
    if (all || o.component == "vae") {
        Arena arena;
        std::optional<AutoencoderKL> built;
        { SerialScope serial; built.emplace(ck, cfg, choice.precision); }
        const AutoencoderKL& vae = *built;
        Tensor z = random_tensor({1, 4, lat, lat}, 12);
        const VaeTiling tiling{o.vae_tile / 8, o.vae_overlap / 8};
        const auto decode = [&] { o.vae_tile > 0 ? decode_tiled(vae, z, tiling, arena) : vae.decode(z, arena); };
        results.push_back(result_of(o.vae_tile > 0 ? fmt::format("vae decode, {}px tiles", o.vae_tile) : "vae decode",
                                    measure(decode, o.reps), &Reference::vae_conv, "512^2 conv", arena));
        if (o.tile_error && o.vae_tile > 0) {  // in [0, 255] units of the picture: (x + 1) / 2 * 255
            const Tensor tiled = decode_tiled(vae, z, tiling, arena), whole = vae.decode(z, arena);
            double worst = 0, sq = 0;
            for (int64_t i = 0; i < whole.numel(); ++i) {
                const auto pixel = [](float v) { return std::clamp((v + 1.0f) / 2.0f, 0.0f, 1.0f) * 255.0f; };
                const double d = std::abs(pixel(tiled.f32()[i]) - pixel(whole.f32()[i]));
                worst = std::max(worst, d);
                sq += d * d;
            }
            fmt::print("tiled vs untiled decode at {0}x{0}: max {1:.2f}/255, rms {2:.3f}/255 over {3} values\n", o.size, worst,
                       std::sqrt(sq / static_cast<double>(whole.numel())), whole.numel());
        }
    }
    kernel_profile().enabled = false;
    const Reference after = measure_reference(ref_reps, choice.precision);
    for (double Reference::*rate : {&Reference::unet_conv, &Reference::vae_conv, &Reference::matmul})
        ref.*rate = std::max(ref.*rate, after.*rate);
    if (!o.json)
        fmt::print("oneDNN alone ({}, best before/after): 3x3 conv 2x320x64x64 {:.1f} GFLOP/s, 3x3 conv 1x128x512x512 "
                   "{:.1f} GFLOP/s, matmul 8192x320x2560 {:.1f} GFLOP/s\n",
                   o.precision, ref.unet_conv, ref.vae_conv, ref.matmul);
    for (const Result& r : results) report(o, r, ref);
}

}  // namespace

void add_bench_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("bench", "Time text encoder, UNet step and VAE decode against oneDNN's own rate");
    auto o = std::make_shared<Options>();
    cmd->add_option("-m,--model", o->model, "Checkpoint (default: a random SD 1.5 written once to the temp folder)");
    cmd->add_option("--component", o->component,
                    "unet, vae, text, all, or txt2img (a whole generation, load included, against its parts)")
        ->capture_default_str();
    cmd->add_option("--steps", o->steps, "Sampling steps of the txt2img run")->capture_default_str();
    cmd->add_option("--size", o->size, "Image size in pixels (square); default: the model's (512, 768 for SD 2.x v)");
    cmd->add_option("--precision", o->precision, "auto (measure and take the faster), fp32 or bf16")->capture_default_str();
    cmd->add_option("--reps", o->reps, "Timed repetitions after one warm-up (best is reported)")->capture_default_str();
    cmd->add_option("--vae-tile-size", o->vae_tile, "Decode in tiles of this many pixels (0: untiled)")->capture_default_str();
    cmd->add_option("--vae-tile-overlap", o->vae_overlap, "Pixels neighbouring tiles share")->capture_default_str();
    cmd->add_flag("--vae-tile-error", o->tile_error, "Also decode untiled once and print the tiled picture's error against it");
    cmd->add_flag("--json", o->json, "One JSON object per line per component");
    cmd->add_flag("--profile", o->profile, "Also print each component's time share per kernel kind");
    cmd->callback([o] { run_bench(*o); });
}

}  // namespace difu::cli
