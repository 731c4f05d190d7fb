// models/vae/tiled_vae.h — the VAE over overlapping tiles, so that memory is bounded by the tile size
// whatever the image size. Tiles are laid on the latent grid (an image tile is the same region times
// the VAE's downscale) with at least `overlap` latent pixels shared by neighbours; their outputs are
// blended with linear ramps across each shared band.
//
// Each tile's GroupNorms and mid-block attention see the tile alone, where the model saw the whole
// image; the overlap also has to cover the decoder's reach (about 20 latent pixels of 3x3 convs
// around a pixel). Tried and left out: GroupNorm statistics of the whole image (exact ones, from an
// untiled run, cut the error of the sd1-tiny VAE by 5-18 %; estimates from a first tiled pass or from a
// downscaled latent, the only ones that keep memory bounded, raised it by 30-50 %).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/vae/autoencoder_kl.h"

namespace difu {

struct VaeTiling {
    int64_t tile = 64;     // latent pixels per tile side (512 image pixels for SD)
    int64_t overlap = 16;  // latent pixels neighbouring tiles share at least
};

// One axis cut into tiles: tile i covers [start, end) and owns its core [core_begin, core_end); the
// cores partition the axis.
struct TileSpan { int64_t start, end, core_begin, core_end; };
std::vector<TileSpan> tile_spans(int64_t length, int64_t tile, int64_t overlap);

// Runs `run` over every tile of input [N, C, latent_h * in_scale, latent_w * in_scale] (tiles laid on
// the latent grid) and blends its outputs, each `out_scale` times the tile's latent size, into one
// [N, C', latent_h * out_scale, latent_w * out_scale]. Tensors `run` takes from `a` are freed per tile.
Tensor run_in_tiles(const Tensor& input, int64_t latent_h, int64_t latent_w, int64_t in_scale, int64_t out_scale,
                    const VaeTiling& tiling, Arena& a, const std::function<Tensor(const Tensor&)>& run);

// Same results and units as vae.decode / vae.encode.
Tensor decode_tiled(const AutoencoderKL& vae, const Tensor& z, const VaeTiling& tiling, Arena& a);
Posterior encode_tiled(const AutoencoderKL& vae, const Tensor& image, const VaeTiling& tiling, Arena& a);

// Scratch bytes an untiled pass over an image of height x width pixels takes (measured with the arena's
// high-water mark: the decoder's peak is five full-resolution activations of its widest first-level
// width, ch * ch_mult[0] floats per pixel, the encoder's three).
int64_t untiled_decode_bytes(const VaeConfig& cfg, int64_t height, int64_t width);
int64_t untiled_encode_bytes(const VaeConfig& cfg, int64_t height, int64_t width);

// When the VAE runs in tiles: always, never, or (Auto) when the untiled pass would take more scratch
// memory than the budget.
enum class VaeTilingMode { Auto, On, Off };
VaeTilingMode parse_vae_tiling_mode(const std::string& name);  // "auto", "on", "off"; Error naming the choices
inline constexpr int64_t kDefaultVaeMemoryBudgetMiB = 4096;  // untiled up to ~1280x1280 for SD's VAE

struct VaeTilingPolicy {
    VaeTilingMode mode = VaeTilingMode::Auto;
    VaeTiling tiles;
    int64_t memory_budget_bytes = kDefaultVaeMemoryBudgetMiB << 20;
    bool tiles_pass(int64_t untiled_bytes) const {
        return mode == VaeTilingMode::On || (mode == VaeTilingMode::Auto && untiled_bytes > memory_budget_bytes);
    }
};

// vae.decode / vae.encode, whole or in tiles as the policy says.
Tensor vae_decode(const AutoencoderKL& vae, const Tensor& z, const VaeTilingPolicy& policy, Arena& a);
Posterior vae_encode(const AutoencoderKL& vae, const Tensor& image, const VaeTilingPolicy& policy, Arena& a);

}  // namespace difu
