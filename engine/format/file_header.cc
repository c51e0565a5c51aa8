#include "engine/format/file_header.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/segment_format.h"

namespace tracelog {

void SealFileHeader(const char magic[8], char* dst) {
  std::memcpy(dst, magic, 8);
  EncodeFixed32(dst + 8, kFormatVersion);
  EncodeFixed64(dst + 56, Checksum64(dst, 56));
}
absl::Status CheckFileHeader(absl::string_view src, const char magic[8], size_t size,
                         const char* what, uint32_t oldest) {
  if (src.size() < size) return absl::DataLossError(absl::StrCat(what, " header truncated"));
  if (std::memcmp(src.data(), magic, 8) != 0) {
    return absl::DataLossError(absl::StrCat("not a tracelog ", what, " (bad magic at offset 0)"));
  }
  if (DecodeFixed64(src.data() + 56) != Checksum64(src.data(), 56)) {
    return absl::DataLossError(absl::StrCat(what, " header checksum mismatch at offset 56"));
  }
  const uint32_t version = DecodeFixed32(src.data() + 8);
  if (version < oldest || version > kFormatVersion) {
    return absl::DataLossError(absl::StrCat("unsupported ", what, " format version ", version,
                                            " at offset 8 (this build reads versions ", oldest,
                                            " to ", kFormatVersion, ")"));
  }
  return absl::OkStatus();
}

std::string NumberedFileName(uint64_t base, const char* suffix) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 "%s", base, suffix);
  return buf;
}
std::optional<uint64_t> ParseNumberedFileName(absl::string_view name, absl::string_view suffix) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return std::nullopt;
  for (char c : name.substr(0, 20)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t v;
  if (!absl::SimpleAtoi(name.substr(0, 20), &v)) return std::nullopt;
  return v;
}

}  // namespace tracelog
