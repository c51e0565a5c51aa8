#include "engine/format/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tracelog {

uint64_t Checksum64(const void* data, size_t n) { return XXH3_64bits(data, n); }

uint64_t Checksum64Concat(absl::string_view a, absl::string_view b) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, a.data(), a.size());
  XXH3_64bits_update(&state, b.data(), b.size());
  return XXH3_64bits_digest(&state);
}

}  // namespace tracelog
