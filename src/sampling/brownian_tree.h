// sampling/brownian_tree.h — torchsde's BrownianTree (torchsde/_brownian/brownian_interval.py with
// halfway_tree=True, tol=1e-6, pool_size=24, no Lévy area), the noise k-diffusion's SDE samplers draw.
// A Brownian path W on [t0, t1] is fixed by one integer entropy and resolved lazily by a dyadic tree:
//   the root holds W(t1) - W(t0) = randn(seed_root) sqrt(t1 - t0);
//   a node [s, e] split at its midpoint m (times rounded to 6 decimals) gives its children by the
//   Brownian bridge:  W_left = (m - s)/(e - s) W + sqrt((m - s)(e - m)/(e - s)) randn(seed_node),
//                     W_right = W - W_left;
//   node seeds come from numpy's SeedSequence(entropy, spawn_key=(key, depth), pool_size=24), the key
//   growing as 2 key + (0 left | 1 right) from the root's 0.
// A query [ta, tb] is split into tree nodes (splitting nodes at their midpoints until ta and tb are
// node edges) whose increments are summed. The same entropy gives the same path whatever the order of
// the queries, which is what makes webui's SDE images independent of the batch size.
#pragma once
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace difu {

class BrownianTree {
public:
    // randn(seed): a fresh generator's first normal draw of the path's shape (torch.Generator().
    // manual_seed(seed) on the CPU; webui swaps in its own random source here).
    using SeededRandn = std::function<Tensor(uint32_t seed)>;

    BrownianTree(double t0, double t1, uint64_t entropy, SeededRandn randn);
    ~BrownianTree();
    BrownianTree(BrownianTree&&) noexcept;
    BrownianTree& operator=(BrownianTree&&) noexcept;

    // W(tb) - W(ta) for t0 <= ta <= tb <= t1 (clamped to the interval as torchsde does).
    Tensor increment(double ta, double tb);

private:
    struct Node;
    Node* split(Node* n, double midway);
    void locate(Node* n, double ta, double tb, std::vector<Node*>& out);
    const Tensor& node_increment(Node* n);
    double round(double t) const;

    std::unique_ptr<Node> root_;
    uint64_t entropy_;
    SeededRandn randn_;
    std::list<std::pair<const Node*, Tensor>> cache_;  // torchsde's LRU of recent increments
};

// k-diffusion's BrownianTreeNoiseSampler: noise(sigma, sigma_next) = (W(sigma_next) - W(sigma)) /
// sqrt|sigma_next - sigma| over a tree on [sigma_min, sigma_max], i.e. a unit normal per step that is one
// path's increments (the sign follows the direction of the step).
class BrownianNoise {
public:
    BrownianNoise(float sigma_min, float sigma_max, uint64_t entropy, BrownianTree::SeededRandn randn);
    Tensor operator()(float sigma, float sigma_next);

private:
    BrownianTree tree_;
};

}  // namespace difu
