#include "sampling/brownian_tree.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "core/error.h"
#include "core/seed_sequence.h"

namespace difu {
namespace {

constexpr uint32_t kPoolSize = 24;      // torchsde.BrownianTree's pool_size
constexpr int kDecimals = 6;            // tol = 1e-6: times are rounded to 6 decimals
constexpr size_t kCacheSize = 45;       // BrownianInterval's cache_size

// a * s for a float32 tensor and a Python float, as torch computes it: the scalar cast to float.
Tensor scaled_by(const Tensor& a, double s) {
    Tensor out = Tensor::empty(a.shape());
    const float f = static_cast<float>(s);
    auto o = out.f32_mut();
    auto x = a.f32();
    for (size_t i = 0; i < o.size(); ++i) o[i] = x[i] * f;
    return out;
}

}  // namespace

struct BrownianTree::Node {
    double start = 0, end = 0;
    Node* parent = nullptr;
    bool is_left = false;
    std::optional<double> midway{};
    uint64_t spawn_key = 0;
    uint64_t depth = 0;
    uint32_t w_seed = 0;  // the seed of the bridge noise that splits this node
    std::unique_ptr<Node> left{}, right{};
};

BrownianTree::BrownianTree(double t0, double t1, uint64_t entropy, SeededRandn randn)
    : entropy_(entropy), randn_(std::move(randn)) {
    if (!(t0 < t1)) throw Error::make("Brownian tree: the interval [{}, {}] is empty", t0, t1);
    root_ = std::make_unique<Node>();
    root_->start = round(t0);
    root_->end = round(t1);
    // The root's increment: SeedSequence(entropy, pool_size=24).generate_state(3)[0] (W), sqrt(t1 - t0)
    // of the unrounded ends.
    const uint32_t seed = SeedSequence({entropy}, {}, kPoolSize).generate_state(1)[0];
    cache_.emplace_front(root_.get(), scaled_by(randn_(seed), std::sqrt(t1 - t0)));
}

BrownianTree::~BrownianTree() = default;
BrownianTree::BrownianTree(BrownianTree&&) noexcept = default;
BrownianTree& BrownianTree::operator=(BrownianTree&&) noexcept = default;

// Python's round(t, 6): the correctly rounded decimal, read back.
double BrownianTree::round(double t) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", kDecimals, t);
    return std::strtod(buf, nullptr);
}

// _split with halfway_tree: split at the centre, then keep splitting the child holding `midway` until
// it is a node edge.
BrownianTree::Node* BrownianTree::split(Node* n, double midway) {
    const double m = round(0.5 * (n->end + n->start));
    n->midway = m;
    if (n->parent) {
        n->spawn_key = 2 * n->parent->spawn_key + (n->is_left ? 0 : 1);
        n->depth = n->parent->depth + 1;
    }
    n->w_seed = SeedSequence({entropy_}, {n->spawn_key, n->depth}, kPoolSize).generate_state(1)[0];
    n->left = std::make_unique<Node>();
    *n->left = {.start = n->start, .end = m, .parent = n, .is_left = true};
    n->right = std::make_unique<Node>();
    *n->right = {.start = m, .end = n->end, .parent = n, .is_left = false};
    if (midway > m) split(n->right.get(), midway);
    else if (midway < m) split(n->left.get(), midway);
    return n;
}

// _loc_inner from the root: the nodes whose union is [ta, tb], left to right.
void BrownianTree::locate(Node* n, double ta, double tb, std::vector<Node*>& out) {
    if (ta == n->start && tb == n->end) {
        out.push_back(n);
        return;
    }
    if (!n->midway) split(n, ta == n->start ? tb : ta);
    const double m = *n->midway;
    if (tb <= m) return locate(n->left.get(), ta, tb, out);
    if (ta >= m) return locate(n->right.get(), ta, tb, out);
    locate(n->left.get(), ta, m, out);
    locate(n->right.get(), m, tb, out);
}

const Tensor& BrownianTree::node_increment(Node* n) {
    for (auto it = cache_.begin(); it != cache_.end(); ++it)
        if (it->first == n) {
            if (n != root_.get()) cache_.splice(cache_.begin(), cache_, it);  // most recently used first
            return it->second;
        }
    Node* p = n->parent;
    const Tensor w = node_increment(p);  // a copy: the cache may drop it below
    const double h_reciprocal = 1.0 / (p->end - p->start);
    const double left_diff = *p->midway - p->start, right_diff = p->end - *p->midway;
    const double var = left_diff * right_diff * h_reciprocal;
    const Tensor noise = randn_(p->w_seed);
    if (noise.shape() != w.shape()) throw Error::make("Brownian tree: the random source gave a differently shaped draw");
    // left_W = left_diff W / h + sqrt(var) z, in float32 as torch evaluates it.
    Tensor out = Tensor::empty(w.shape());
    auto o = out.f32_mut();
    auto ws = w.f32(), z = noise.f32();
    const float a = static_cast<float>(left_diff), b = static_cast<float>(h_reciprocal), c = static_cast<float>(std::sqrt(var));
    for (size_t i = 0; i < o.size(); ++i) {
        const float left_w = ws[i] * a * b + c * z[i];
        o[i] = n->is_left ? left_w : ws[i] - left_w;
    }
    cache_.emplace_front(n, std::move(out));
    if (cache_.size() > kCacheSize + 1) {  // + 1: the root stays
        auto last = std::prev(cache_.end());
        if (last->first == root_.get()) --last;
        cache_.erase(last);
    }
    return cache_.front().second;
}

Tensor BrownianTree::increment(double ta, double tb) {
    ta = std::min(std::max(ta, root_->start), root_->end);
    tb = std::min(std::max(tb, root_->start), root_->end);
    if (ta > tb) throw Error::make("Brownian tree: query [{}, {}] runs backwards", ta, tb);
    ta = round(ta);
    tb = round(tb);
    if (ta == tb) {
        Tensor zero = Tensor::empty(node_increment(root_.get()).shape());
        for (float& v : zero.f32_mut()) v = 0.0f;
        return zero;
    }
    std::vector<Node*> nodes;
    locate(root_.get(), ta, tb, nodes);
    Tensor w = node_increment(nodes[0]).clone();
    for (size_t k = 1; k < nodes.size(); ++k) {
        const Tensor& wi = node_increment(nodes[k]);
        auto o = w.f32_mut();
        auto x = wi.f32();
        for (size_t i = 0; i < o.size(); ++i) o[i] += x[i];
    }
    return w;
}

BrownianNoise::BrownianNoise(float sigma_min, float sigma_max, uint64_t entropy, BrownianTree::SeededRandn randn)
    : tree_(std::min(sigma_min, sigma_max), std::max(sigma_min, sigma_max), entropy, std::move(randn)) {}

Tensor BrownianNoise::operator()(float sigma, float sigma_next) {
    const bool forward = sigma < sigma_next;
    Tensor w = tree_.increment(forward ? sigma : sigma_next, forward ? sigma_next : sigma);
    const float scale = std::sqrt(std::fabs(sigma_next - sigma));
    for (float& v : w.f32_mut()) v = (forward ? v : -v) / scale;
    return w;
}

}  // namespace difu
