// tests/models/unet_blocks.h — the UNet compared with a fixture block by block: the reference's
// forward-hook outputs "unet.dbg.<module>" against what UNetProbe reports under the same module names.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "io/checkpoint.h"
#include "models/layers.h"
#include "models/unet/unet.h"
#include "test_support.h"

namespace difu::test {

struct UNetBlocks {
    std::map<std::string, Tensor> seen;  // NCHW, as the reference stores them
    UNetProbe probe() {
        return [this](const std::string& name, const Tensor& t) { seen[name] = t.ndim() == 4 ? nhwc_to_nchw(t) : t.clone(); };
    }
    // Every "unet.dbg.*" tensor of `ref` within `tolerance` of ours; returns how many were compared.
    int expect_match(const Checkpoint& ref, double tolerance) {
        int compared = 0;
        for (const auto& [name, t] : ref.tensors) {
            if (name.rfind("unet.dbg.", 0) != 0) continue;
            const std::string ours = name.substr(9);
            EXPECT_TRUE(seen.count(ours)) << ours;
            if (!seen.count(ours)) continue;
            EXPECT_LT(max_abs_diff(seen[ours], t), tolerance) << ours;
            ++compared;
        }
        return compared;
    }
};

}  // namespace difu::test
