// kernels/dnnl_context.h — the one oneDNN CPU engine and stream difu computes on.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

namespace difu {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();  // in-order; calls are synchronous after wait()

}  // namespace difu
