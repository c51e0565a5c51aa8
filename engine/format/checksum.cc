#include "engine/format/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tracelog {

uint64_t Checksum64(const void* data, size_t n) { return XXH3_64bits(data, n); }

}  // namespace tracelog
