// core/threads.h — how many threads difu computes with. Default: the cores this process may run on
// (its CPU affinity mask, which containers and taskset narrow), not the machine's core count.
#pragma once

namespace difu {

int available_cores();        // sched_getaffinity count, >= 1
void set_num_threads(int n);  // n <= 0 means available_cores(); sets OpenMP (and so oneDNN) threads
int num_threads();            // what OpenMP work started here would use (1 inside a SerialScope)
int configured_threads();     // what set_num_threads (-t) chose, scopes aside

// OpenMP work started inside the scope (by difu or oneDNN) uses at most `threads` threads; the
// previous count comes back at the end.
class ThreadScope {
public:
    explicit ThreadScope(int threads);
    ~ThreadScope();
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

private:
    int saved_;
};

// The calling thread alone. For model building, a long chain of small conversions and reorders:
// waking the other thread for each cost more than it gave (SD 1.5 UNet build 3.3 s with 2 threads,
// 1.3 s with 1, on a 2-core Zen 5 VM). A big job inside can open a ThreadScope of its own.
class SerialScope : public ThreadScope {
public:
    SerialScope() : ThreadScope(1) {}
};

}  // namespace difu
