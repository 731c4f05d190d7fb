// placeholder until the torch zip/pickle reader lands
#include "io/checkpoint.h"
namespace difu {
Checkpoint read_ckpt(std::shared_ptr<MappedFile> file) { throw Error::at(file->path(), ".ckpt loading is not implemented yet"); }
}  // namespace difu
