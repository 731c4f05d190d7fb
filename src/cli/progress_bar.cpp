#include "cli/progress_bar.h"

#include <fmt/format.h>

#include <cstdio>

namespace difu::cli {

void ProgressBar::update(int step, int steps) {
    constexpr int kWidth = 30;
    const auto now = std::chrono::steady_clock::now();
    if (first_step_ < 0) {  // time from the first report, so loading is not counted as sampling
        first_step_ = step;
        start_ = now;
    }
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const int done = step - first_step_;
    const double rate = elapsed > 0 && done > 0 ? done / elapsed : 0;
    const int filled = steps > 0 ? kWidth * step / steps : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '-');
    std::string eta = rate > 0 ? fmt::format("ETA {:.0f}s", (steps - step) / rate) : "ETA ?";
    std::string speed = rate >= 1 || rate == 0 ? fmt::format("{:.2f} it/s", rate) : fmt::format("{:.2f} s/it", 1 / rate);
    fmt::print(stderr, "\r{} [{}] {}/{}  {}  {}   ", label_, bar, step, steps, speed, step == steps ? "done" : eta);
    if (step == steps) fmt::print(stderr, "\n");
    std::fflush(stderr);
}

}  // namespace difu::cli
