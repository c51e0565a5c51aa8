#ifndef TRACELOG_ENGINE_FORMAT_UTF8_H_
#define TRACELOG_ENGINE_FORMAT_UTF8_H_

// The one UTF-8 decoder of the engine (strict: no overlong forms, no
// surrogates, nothing above U+10FFFF). Used to scrub invalid bytes before key
// extraction and to escape text as Python's json module does.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace tracelog {

// Decodes the code point starting at s[i] into *cp and returns its length in
// bytes (1-4), or 0 if s[i] does not start a well-formed sequence.
inline size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp) {
  const unsigned char c = s[i];
  size_t need;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    need = 1, min = 0x80, *cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    need = 2, min = 0x800, *cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    need = 3, min = 0x10000, *cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + need >= s.size()) return 0;
  for (size_t k = 1; k <= need; ++k) {
    const unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (cc & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return need + 1;
}

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_UTF8_H_
