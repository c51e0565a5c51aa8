#ifndef TRACELOG_ENGINE_FORMAT_GAP_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_GAP_FORMAT_H_

// A gap file `<first>.gap`: sequence numbers [first, end) that no event of
// the log holds, and why. Recovery writes one when it continues the log
// above the end of what it found, so that no sequence number is ever given
// to two events (format-spec/README.md, "Gap files"). Readers step over a
// gap like over a segment: its successor starts at `end`.
//
//   0  8  magic "TLGAP\0\0\0"
//   8  4  format version
//  12  4  reason (GapReason)
//  16  8  first sequence of the gap (equals the file name)
//  24  8  end: the first sequence after the gap (> first)
//  32  8  created, µs since the epoch (signed)
//  40 16  reserved, zero
//  56  8  XXH3-64 of [0, 56)

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

inline constexpr char kGapMagic[8] = {'T', 'L', 'G', 'A', 'P', '\0', '\0', '\0'};
inline constexpr size_t kGapFileSize = 64;
inline constexpr uint32_t kOldestGapVersion = 4;

enum class GapReason : uint32_t {
  // Numbers recovery skipped because events may have used them before it
  // (appends that were not durable when the machine crashed, an import
  // that was rolled back, appends whose sync failed): such events are gone,
  // and their numbers are not given again. Not damage.
  kSkipped = 1,
  // Events that were durable (a checkpoint vouched for them) and that
  // recovery found damaged beyond repair: lost. Readers report it as damage.
  kLost = 2,
};
const char* GapReasonName(GapReason r);

struct GapRecord {
  uint64_t first = 0;  // first missing sequence
  uint64_t end = 0;    // first sequence after the gap
  GapReason reason = GapReason::kSkipped;
  int64_t created_micros = 0;
};

void EncodeGap(const GapRecord& g, char* dst);  // kGapFileSize bytes
// DataLossError (message without the file name) on any damage: bad magic,
// checksum, version, reason, range, or reserved bytes that are not zero.
absl::Status DecodeGap(absl::string_view src, GapRecord* g);

std::string GapFileName(uint64_t first);  // 20 digits + ".gap"
std::optional<uint64_t> ParseGapFileName(absl::string_view name);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_GAP_FORMAT_H_
