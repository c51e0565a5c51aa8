#ifndef TRACELOG_ENGINE_QUERY_STATS_CACHE_H_
#define TRACELOG_ENGINE_QUERY_STATS_CACHE_H_

// The statistics of a whole log (`tracelog stats` without a session or a
// filter) from per-segment partials (SessionStatsBuilder::SerializePartial)
// kept in DIR/stats.cache, so that a log of a million events is summarised
// without reading them again:
//
//   * a segment that is not the active one never changes its events
//     (sealing rewrites their form, not them), so its partial, keyed by its
//     base and last sequence, is computed once and merged ever after;
//   * the active segment is read each time (its events may still change
//     after a crash: nothing it holds is cached);
//   * a result or an error whose call is in another segment is paired when
//     the partials are merged; one whose call is named by a result in its
//     own segment too is paired from the log (a query of that session's
//     tool_calls) - so the figures are those of a full scan.
//
// The cache is derived data: missing, damaged (its checksum), of another
// version, or not writable (a read-only log directory), it is rebuilt or
// done without; it is rewritten (atomically, 0600) when segments were
// added or removed. Format: format-spec/README.md, "Stats cache".

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "engine/log/log.h"
#include "engine/query/query.h"
#include "engine/query/session_stats.h"

namespace tracelog {

inline constexpr char kStatsCacheFileName[] = "stats.cache";

struct StatsCacheReport {
  uint64_t segments_cached = 0;  // partials merged from the cache
  uint64_t segments_read = 0;    // segments whose events were read
  uint64_t events_read = 0;
  uint64_t sessions_paired_from_log = 0;
  bool cache_written = false;
  std::string cache_problem;  // why the cache was not used or not written; "" if it was
};

// One partial of the cache: the segment's last sequence and the partial.
struct StatsCacheEntry {
  uint64_t last_sequence = 0;
  // What else tells the segment's file from another with the same
  // sequences (a log rebuilt in the same directory): a sealed segment's
  // event count and size, a raw one's creation time (us) and 0.
  std::array<uint64_t, 2> identity = {0, 0};
  std::string partial;
};

// The entries of a stats.cache file, by segment base; DataLossError when it
// is not one (magic, checksum, version, entry bounds). The partials are
// checked when merged (SessionStatsBuilder::MergePartial).
absl::StatusOr<std::map<uint64_t, StatsCacheEntry>> DecodeStatsCache(absl::string_view bytes);
std::string EncodeStatsCache(const std::map<uint64_t, StatsCacheEntry>& entries);

absl::StatusOr<SessionStats> WholeLogStats(Log* log, QueryEngine* engine,
                                           const CorruptionReporter& reporter,
                                           StatsCacheReport* report = nullptr);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_STATS_CACHE_H_
