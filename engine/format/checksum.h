#ifndef TRACELOG_ENGINE_FORMAT_CHECKSUM_H_
#define TRACELOG_ENGINE_FORMAT_CHECKSUM_H_

// The one checksum of the format: XXH3-64 (xxHash 0.8.1), seed 0.
// Chosen over CRC32C by benchmark (bench/RESULTS.md, BM_Checksum_*): XXH3 runs
// at memory speed with AVX2 on 700-byte records, while Debian's Abseil has no
// CRC32C and a software CRC32C is several times slower.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace tracelog {

uint64_t Checksum64(const void* data, size_t n);
inline uint64_t Checksum64(absl::string_view s) { return Checksum64(s.data(), s.size()); }

// Checksum64 of bytes given in pieces: Digest() equals Checksum64 of their
// concatenation. A copy carries on from the same point.
class Checksum64Stream {
 public:
  Checksum64Stream();
  ~Checksum64Stream();
  Checksum64Stream(const Checksum64Stream& other);
  Checksum64Stream& operator=(const Checksum64Stream& other);
  void Update(absl::string_view s);
  uint64_t Digest() const;  // of everything so far; Update may go on

 private:
  void* state_;  // XXH3_state_t
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_CHECKSUM_H_
