#ifndef TRACELOG_ENGINE_REDACT_JSON_STRING_H_
#define TRACELOG_ENGINE_REDACT_JSON_STRING_H_

// JSON string literals for the redactor (redactor.cc): written from UTF-8
// text, read back leniently, and offsets in their decoded text mapped to
// offsets in the text as written.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace tracelog::redact {

// UTF-8 `s` as the inside of a JSON string literal (escapes what JSON
// requires; other bytes as they are).
void AppendJsonEscaped(absl::string_view s, std::string* out);
// A JSON string literal for UTF-8 `s`.
void AppendJsonString(absl::string_view s, std::string* out);

// The escape at raw[at] (a backslash) of a JSON string's text as written:
// appends what it decodes to onto *out and returns how many bytes it is
// written in. As JSON decodes it (simdjson agrees); an escape that does not
// decode (a lone surrogate, which Python writes, a letter JSON lacks, \u
// without four hex digits) reads as one '?'.
size_t DecodeEscape(absl::string_view raw, size_t at, std::string* out);

// A JSON string's text as written, decoded as DecodeEscape says: for a
// string simdjson will not decode.
std::string LenientlyDecoded(absl::string_view raw);

// Offsets in a JSON string's decoded text (as DecodeEscape decodes it)
// mapped to offsets in its text as written (between the quotes), front to
// back: a changed string is then rewritten only where it changed, not
// escaped again whole.
class RawOffsets {
 public:
  explicit RawOffsets(absl::string_view raw) : raw_(raw) {}

  // The written offset of decoded offset `decoded` (not before the last
  // one asked for); false if it falls inside what one escape decodes to,
  // or past the end.
  bool Map(size_t decoded, size_t* out);

 private:
  std::string scratch_;
  const absl::string_view raw_;
  size_t raw_at_ = 0, decoded_at_ = 0;
};

}  // namespace tracelog::redact

#endif  // TRACELOG_ENGINE_REDACT_JSON_STRING_H_
