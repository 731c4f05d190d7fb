#include "kernels/dnnl_context.h"

namespace difu {

dnnl::engine& dnnl_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl::stream& dnnl_stream() {
    // One stream per thread that calls into oneDNN (the worker, the CLI main thread).
    thread_local dnnl::stream stream(dnnl_engine());
    return stream;
}

}  // namespace difu
