// bench/kernels_bench.cpp — difu's own kernels at the shapes SD 1.x runs them, in GFLOP/s
// (counter "GFLOPs"). Compare paths within one run: these machines are shared and noisy.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/arena.h"
#include "kernels/attention.h"
#include "kernels/linear.h"

using namespace difu;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

// args: batch, heads, q_len, kv_len, head_dim, precision (0 fp32, 1 bf16)
void BM_Attention(benchmark::State& state) {
    AttentionShape s;
    s.batch = state.range(0);
    s.heads = state.range(1);
    s.q_len = state.range(2);
    s.kv_len = state.range(3);
    s.head_dim = state.range(4);
    const Precision p = state.range(5) ? Precision::BF16 : Precision::FP32;
    s.q_stride = s.k_stride = s.v_stride = s.out_stride = s.heads * s.head_dim;
    auto q = random_vector(s.batch * s.q_len * s.q_stride, 1), k = random_vector(s.batch * s.kv_len * s.k_stride, 2),
         v = random_vector(s.batch * s.kv_len * s.v_stride, 3);
    std::vector<float> o(q.size());
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
    for (auto _ : state) attention(q.data(), k.data(), v.data(), o.data(), s, scale, p);
    const double flop = 4.0 * s.batch * s.heads * s.q_len * s.kv_len * s.head_dim;
    state.counters["GFLOPs"] = benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(precision_name(p)));
}

// SD 1.x at 512x512 (64x64 latent), CFG batch 2: self-attention per level, cross-attention over 77
// tokens at the first level, and the VAE's single 512-channel head.
void attention_shapes(benchmark::internal::Benchmark* b) {
    for (int64_t p : {0, 1}) {
        b->Args({2, 8, 4096, 4096, 40, p});
        b->Args({2, 8, 1024, 1024, 80, p});
        b->Args({2, 8, 256, 256, 160, p});
        b->Args({2, 8, 4096, 77, 40, p});
        b->Args({1, 1, 4096, 4096, 512, p});
    }
    b->ArgNames({"batch", "heads", "q", "kv", "dim", "bf16"})->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_Attention)->Apply(attention_shapes);

// args: rows, in, out, precision (0 fp32, 1 bf16). y = x W^T + b as the UNet's transformer runs it.
void BM_Linear(benchmark::State& state) {
    const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
    const Precision p = state.range(3) ? Precision::BF16 : Precision::FP32;
    auto w = random_vector(out * in, 4), b = random_vector(out, 5), x = random_vector(rows * in, 6);
    Linear lin(Tensor::from_f32({out, in}, w), Tensor::from_f32({out}, b), p);
    std::vector<float> y(rows * out);
    for (auto _ : state) lin.forward(x.data(), rows, y.data());
    state.counters["GFLOPs"] = benchmark::Counter(2.0 * rows * in * out * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(precision_name(p)));
}

// SD 1.x at 512x512, CFG batch 2: first level (8192 rows of 320), second (2048 of 640), third (512 of
// 1280); q/k/v stacked, out, GEGLU (x 8), FF out; the cross-attention k/v over 2 x 77 text tokens.
void linear_shapes(benchmark::internal::Benchmark* b) {
    for (int64_t p : {0, 1}) {
        for (auto [rows, c] : {std::pair<int64_t, int64_t>{8192, 320}, {2048, 640}, {512, 1280}}) {
            b->Args({rows, c, 3 * c, p});
            b->Args({rows, c, c, p});
            b->Args({rows, c, 8 * c, p});
            b->Args({rows, 4 * c, c, p});
        }
        b->Args({154, 768, 320, p});
    }
    b->ArgNames({"rows", "in", "out", "bf16"})->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_Linear)->Apply(linear_shapes);

}  // namespace

BENCHMARK_MAIN();
