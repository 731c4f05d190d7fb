// cli/progress_bar.h — a one-line progress bar on stderr: "sampling [######----] 12/20  3.1 it/s  ETA 3s".
#pragma once
#include <chrono>
#include <string>

namespace difu::cli {

class ProgressBar {
public:
    explicit ProgressBar(std::string label) : label_(std::move(label)) {}
    // step of steps done; redraws in place (\r) and ends the line when step == steps.
    void update(int step, int steps);

private:
    std::string label_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    int first_step_ = -1;
};

}  // namespace difu::cli
