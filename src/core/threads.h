// core/threads.h — how many threads difu computes with. Default: the cores this process may run on
// (its CPU affinity mask, which containers and taskset narrow), not the machine's core count.
#pragma once

namespace difu {

int available_cores();        // sched_getaffinity count, >= 1
void set_num_threads(int n);  // n <= 0 means available_cores(); sets OpenMP (and so oneDNN) threads
int num_threads();

// OpenMP work started inside the scope runs on the calling thread alone. For model building, a long
// chain of small conversions and reorders: waking the other thread for each cost more than it gave
// (SD 1.5 UNet build 3.3 s with 2 threads, 1.3 s with 1, on a 2-core Zen 5 VM).
class SerialScope {
public:
    // threads: how many the scope allows (1 = serial; ThreadScope below lifts it for one big job).
    explicit SerialScope(int threads = 1);
    ~SerialScope();
    SerialScope(const SerialScope&) = delete;
    SerialScope& operator=(const SerialScope&) = delete;

private:
    int saved_;
};

// Inside a SerialScope, lets one big job (a weight of megabytes) use every core again.
using ThreadScope = SerialScope;

}  // namespace difu
