#ifndef TRACELOG_ENGINE_FORMAT_CODING_H_
#define TRACELOG_ENGINE_FORMAT_CODING_H_

// Little-endian fixed-width and LEB128 varint encoding. No I/O, no allocation
// beyond the std::string the caller passes. Every multi-byte integer on disk
// is little-endian (format-spec/README.md, "Conventions").

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace tracelog {

static_assert(std::endian::native == std::endian::little,
              "tracelog's on-disk format is little-endian; big-endian hosts need byte swaps");

inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }
inline uint16_t DecodeFixed16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void EncodeDouble(char* dst, double d) { std::memcpy(dst, &d, 8); }
inline double DecodeDouble(const char* p) {
  double d;
  std::memcpy(&d, p, 8);
  return d;
}

inline void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  dst->append(buf, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  dst->append(buf, 8);
}

// Appends `v` as an unsigned LEB128 varint (1-10 bytes).
inline void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

// Decodes a varint from [*p, limit). On success advances *p and returns true.
inline bool GetVarint64(const char** p, const char* limit, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && *p < limit; shift += 7) {
    const uint64_t byte = static_cast<unsigned char>(**p);
    ++*p;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

// Appends a varint length followed by the bytes of `s`.
inline void PutLengthPrefixed(std::string* dst, absl::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}

// Reads a length-prefixed string from [*p, limit) into *out (a view into the
// input). Returns false when the input is too short.
inline bool GetLengthPrefixed(const char** p, const char* limit, absl::string_view* out) {
  uint64_t len;
  if (!GetVarint64(p, limit, &len)) return false;
  if (len > static_cast<uint64_t>(limit - *p)) return false;
  *out = absl::string_view(*p, len);
  *p += len;
  return true;
}

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_CODING_H_
