#include "models/taesd/taesd.h"

#include <cmath>

#include "core/error.h"
#include "io/checkpoint.h"
#include "kernels/resample.h"

namespace difu {
namespace {

constexpr int64_t kWidth = 64, kLatentChannels = 4, kImageChannels = 3;
constexpr float kLatentMagnitude = 3.0f;  // the decoder's Clamp: tanh(z / 3) · 3

void relu_inplace(Tensor& x) {
    for (float& v : x.f32_mut()) v = v > 0.0f ? v : 0.0f;
}

// Activations live on the heap, each freed once the next layer has consumed it: at 512 x 512 one
// 64-channel map is 67 MB, and a stack arena would keep every layer's.
Tensor conv_heap(const Conv2d& c, const Tensor& x) {
    const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2);
    Tensor y = Tensor::empty({n, c.out_size(h, 0), c.out_size(w, 1), c.out_channels()});
    c.forward(x.data<float>(), n, h, w, y.mutable_data<float>());
    return y;
}

Tensor upsample_heap(const Tensor& x) {
    Tensor y = Tensor::empty({x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)});
    upsample_nearest2x(x.data<float>(), y.mutable_data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    return y;
}

using Kind = TaesdLayer::Kind;
// taesd.py's Sequential, index by index (nullopt-free: plain layers have no weights).
constexpr Kind kDecoder[] = {Kind::Clamp, Kind::Conv,  Kind::Relu,     Kind::Block, Kind::Block, Kind::Block, Kind::Upsample,
                             Kind::Conv,  Kind::Block, Kind::Block,    Kind::Block, Kind::Upsample, Kind::Conv, Kind::Block,
                             Kind::Block, Kind::Block, Kind::Upsample, Kind::Conv,  Kind::Block, Kind::Conv};
constexpr Kind kEncoder[] = {Kind::Conv,  Kind::Block, Kind::Conv,  Kind::Block, Kind::Block, Kind::Block, Kind::Conv, Kind::Block,
                             Kind::Block, Kind::Block, Kind::Conv,  Kind::Block, Kind::Block, Kind::Block, Kind::Conv};

// The key prefix of the part's layers: "" (taesd_*.pth) or diffusers' "decoder.layers." / "encoder.layers.".
std::string layer_prefix(const Checkpoint& ck, TaesdModel::Part part, const std::string& path) {
    const std::string diffusers = part == TaesdModel::Part::Decoder ? "decoder.layers." : "encoder.layers.";
    const std::string first = part == TaesdModel::Part::Decoder ? "1.weight" : "0.weight";
    if (ck.has(first)) return "";
    if (ck.has(diffusers + first)) return diffusers;
    throw Error::at(path, "is not a TAESD {} (no '{}' or '{}')", part == TaesdModel::Part::Decoder ? "decoder" : "encoder", first,
                    diffusers + first);
}

}  // namespace

Tensor TaesdBlock::forward(const Tensor& x) const {
    Tensor h = conv_heap(conv0, x);
    relu_inplace(h);
    h = conv_heap(conv2, h);
    relu_inplace(h);
    h = conv_heap(conv4, h);
    add_inplace(h, x);  // skip: Identity (64 -> 64)
    relu_inplace(h);
    return h;
}

TaesdModel::TaesdModel(const std::string& path, Part part, Precision precision) : path_(path), part_(part) {
    const Checkpoint ck = load_checkpoint(path);
    const Weights w(ck, layer_prefix(ck, part, path), precision);
    const bool decoder = part == Part::Decoder;
    const Kind* kinds = decoder ? kDecoder : kEncoder;
    const size_t count = decoder ? std::size(kDecoder) : std::size(kEncoder);
    auto conv_at = [&](size_t i) {
        const std::string name = std::to_string(i);
        const bool first = i == (decoder ? 1u : 0u), last = i + 1 == count;
        const int64_t in = first ? (decoder ? kLatentChannels : kImageChannels) : kWidth;
        const int64_t out = last ? (decoder ? kImageChannels : kLatentChannels) : kWidth;
        const bool stride2 = !decoder && !first && !last;  // the encoder's downsampling convs
        const ConvGeometry g = stride2 ? ConvGeometry{2, {1, 1, 1, 1}} : ConvGeometry::same(3);
        const Tensor& weight = w.stored(name + ".weight", {out, in, 3, 3});
        // The up / down sampling convs have no bias.
        const Tensor bias = w.has(name + ".bias") ? w.stored(name + ".bias", {out}) : Tensor();
        return Conv2d(weight, bias, g, precision);
    };
    for (size_t i = 0; i < count; ++i) {
        TaesdLayer layer{kinds[i]};
        if (kinds[i] == Kind::Conv) layer.conv = conv_at(i);
        if (kinds[i] == Kind::Block) {
            const Weights b = w.sub(static_cast<int>(i)).sub("conv");
            layer.block = {conv(b, "0", kWidth, kWidth, 3, ConvGeometry::same(3)), conv(b, "2", kWidth, kWidth, 3, ConvGeometry::same(3)),
                           conv(b, "4", kWidth, kWidth, 3, ConvGeometry::same(3))};
        }
        layers_.push_back(std::move(layer));
    }
}

Tensor TaesdModel::forward(const Tensor& x_nchw) const {
    const int64_t want = part_ == Part::Decoder ? kLatentChannels : kImageChannels;
    if (x_nchw.ndim() != 4 || x_nchw.dim(1) != want)
        throw Error::make("TAESD {} takes [N, {}, H, W], got {}", part_ == Part::Decoder ? "decoder" : "encoder", want,
                          shape_str(x_nchw.shape()));
    const Tensor in = x_nchw.to(DType::F32).contiguous();
    Tensor x = Tensor::empty({in.dim(0), in.dim(2), in.dim(3), in.dim(1)});
    nchw_to_nhwc(in.data<float>(), x.mutable_data<float>(), in.dim(0), in.dim(1), in.dim(2), in.dim(3));
    for (const TaesdLayer& l : layers_) {
        switch (l.kind) {
            case Kind::Clamp:
                for (float& v : x.f32_mut()) v = std::tanh(v / kLatentMagnitude) * kLatentMagnitude;
                break;
            case Kind::Conv: x = conv_heap(l.conv, x); break;
            case Kind::Relu: relu_inplace(x); break;
            case Kind::Upsample: x = upsample_heap(x); break;
            case Kind::Block: x = l.block.forward(x); break;
        }
    }
    return nhwc_to_nchw(x);
}

}  // namespace difu
