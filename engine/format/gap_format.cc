#include "engine/format/gap_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/coding.h"
#include "engine/format/file_header.h"

namespace tracelog {

const char* GapReasonName(GapReason r) {
  switch (r) {
    case GapReason::kSkipped: return "skipped by recovery (events that may have used them are gone)";
    case GapReason::kLost: return "lost: durable events found damaged by recovery";
  }
  return "?";
}

void EncodeGap(const GapRecord& g, char* dst) {
  std::memset(dst, 0, kGapFileSize);
  EncodeFixed32(dst + 12, static_cast<uint32_t>(g.reason));
  EncodeFixed64(dst + 16, g.first);
  EncodeFixed64(dst + 24, g.end);
  EncodeFixed64(dst + 32, static_cast<uint64_t>(g.created_micros));
  SealFileHeader(kGapMagic, dst);
}

absl::Status DecodeGap(absl::string_view src, GapRecord* g) {
  if (auto s = CheckFileHeader(src, kGapMagic, kGapFileSize, "gap file", kOldestGapVersion);
      !s.ok()) {
    return s;
  }
  const char* p = src.data();
  const uint32_t reason = DecodeFixed32(p + 12);
  if (reason != static_cast<uint32_t>(GapReason::kSkipped) &&
      reason != static_cast<uint32_t>(GapReason::kLost)) {
    return absl::DataLossError(absl::StrCat("unknown gap reason ", reason, " at offset 12"));
  }
  if (DecodeFixed64(p + 40) != 0 || DecodeFixed64(p + 48) != 0) {
    return absl::DataLossError("gap file: reserved bytes [40, 56) are not zero");
  }
  g->reason = static_cast<GapReason>(reason);
  g->first = DecodeFixed64(p + 16);
  g->end = DecodeFixed64(p + 24);
  g->created_micros = static_cast<int64_t>(DecodeFixed64(p + 32));
  if (g->first == 0 || g->end <= g->first) {
    return absl::DataLossError(absl::StrCat("gap file: empty or reversed range [", g->first, ", ",
                                            g->end, ") at offset 16"));
  }
  return absl::OkStatus();
}

std::string GapFileName(uint64_t first) { return NumberedFileName(first, ".gap"); }
std::optional<uint64_t> ParseGapFileName(absl::string_view name) {
  return ParseNumberedFileName(name, ".gap");
}

}  // namespace tracelog
