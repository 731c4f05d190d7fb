// core/threads.h — how many threads difu computes with. Default: the cores this process may run on
// (its CPU affinity mask, which containers and taskset narrow), not the machine's core count.
#pragma once

namespace difu {

int available_cores();        // sched_getaffinity count, >= 1
void set_num_threads(int n);  // n <= 0 means available_cores(); sets OpenMP (and so oneDNN) threads
int num_threads();

}  // namespace difu
