// Checksum64Stream (checksum.h), apart from Checksum64: keeping XXH3's
// streaming code out of the one-shot function's file keeps its code as it
// was (with both in one file, reading sealed segments ran ~20 % slower in
// zstd's decoder: bench/RESULTS.md).
#include <cstdlib>

#include "engine/format/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tracelog {

namespace {
XXH3_state_t* NewState() {
  XXH3_state_t* s = XXH3_createState();
  if (s == nullptr) std::abort();  // out of memory, like operator new
  return s;
}
}  // namespace

Checksum64Stream::Checksum64Stream() : state_(NewState()) {
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

Checksum64Stream::~Checksum64Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

Checksum64Stream::Checksum64Stream(const Checksum64Stream& other) : state_(NewState()) {
  XXH3_copyState(static_cast<XXH3_state_t*>(state_), static_cast<const XXH3_state_t*>(other.state_));
}

Checksum64Stream& Checksum64Stream::operator=(const Checksum64Stream& other) {
  if (this != &other) {
    XXH3_copyState(static_cast<XXH3_state_t*>(state_),
                   static_cast<const XXH3_state_t*>(other.state_));
  }
  return *this;
}

void Checksum64Stream::Update(absl::string_view s) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), s.data(), s.size());
}

uint64_t Checksum64Stream::Digest() const {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

}  // namespace tracelog
