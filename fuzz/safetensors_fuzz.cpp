// fuzz/safetensors_fuzz.cpp — any bytes through the safetensors reader, then every tensor read in
// full (so that an out-of-bounds view shows up under ASan). Only difu::Error may escape the reader.
#include <cstddef>
#include <cstdint>

#include "io/checkpoint.h"
#include "io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto file = difu::MappedFile::from_bytes("fuzz.safetensors", data, size);
        difu::Checkpoint ck = difu::read_safetensors(file);
        volatile uint8_t sink = 0;
        for (const auto& [name, t] : ck.tensors)
            for (size_t i = 0; i < t.nbytes(); ++i) sink = sink ^ static_cast<uint8_t>(t.raw()[i]);
        try {
            difu::ModelConfig cfg = difu::infer_config(ck);
            (void)difu::check_keys(ck, cfg);
        } catch (const difu::Error&) {
        }
    } catch (const difu::Error&) {
    }
    return 0;
}
