// fuzz/ckpt_fuzz.cpp — any bytes through read_ckpt (zip reader, unpickler, tensor views): a checkpoint or
// a difu::Error, never a crash. Every tensor's bytes are read, so a view reaching outside the input
// shows up under AddressSanitizer.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const difu::Checkpoint ck = difu::read_ckpt(difu::MappedFile::from_bytes("fuzz.ckpt", data, size));
        volatile uint8_t sum = 0;
        for (const auto& [name, t] : ck.tensors)
            for (size_t i = 0; i < t.nbytes(); ++i) sum = sum + static_cast<uint8_t>(t.raw()[i]);
    } catch (const difu::Error&) {
    }
    return 0;
}
