#include "core/threads.h"

#include <omp.h>
#include <sched.h>

#include <thread>

namespace difu {

int available_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc ? static_cast<int>(hc) : 1;
}

namespace {
int configured = 0;  // set_num_threads' value; 0 until called
}  // namespace

void set_num_threads(int n) {
    configured = n > 0 ? n : available_cores();
    omp_set_num_threads(configured);
}

int configured_threads() { return configured > 0 ? configured : available_cores(); }

int num_threads() { return omp_get_max_threads(); }

ThreadScope::ThreadScope(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
ThreadScope::~ThreadScope() { omp_set_num_threads(saved_); }

}  // namespace difu
