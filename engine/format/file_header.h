#ifndef TRACELOG_ENGINE_FORMAT_FILE_HEADER_H_
#define TRACELOG_ENGINE_FORMAT_FILE_HEADER_H_

// The 64-byte header the sealed, index, dictionary and attachment files
// share: magic at 0, format version at 8, XXH3-64 of [0, 56) at 56; the
// bytes between are each file kind's own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

// Writes magic, version (kFormatVersion) and checksum into dst[0, 64); the
// caller has filled the kind's own fields before.
void SealFileHeader(const char magic[8], char* dst);
// DataLossError naming `what` and the offset: truncated, bad magic, bad
// checksum, or a version outside [oldest, kFormatVersion].
absl::Status CheckFileHeader(absl::string_view src, const char magic[8], size_t size,
                             const char* what, uint32_t oldest);

// Files named by a number: 20 decimal digits, then `suffix`.
std::string NumberedFileName(uint64_t n, const char* suffix);
std::optional<uint64_t> ParseNumberedFileName(absl::string_view name, absl::string_view suffix);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_FILE_HEADER_H_
