// fuzz/unpickler_fuzz.cpp — any bytes through the restricted unpickler: it either describes them or throws
// difu::Error; it never crashes, hangs, or grows memory beyond its limits. Reading each value's kind walks
// every object the VM built.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "io/unpickler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const auto p = difu::pickle::unpickle(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.pkl");
        for (difu::pickle::ObjId id = 0; id < p.objects.size(); ++id) (void)p.kind(id);
    } catch (const difu::Error&) {
    }
    return 0;
}
