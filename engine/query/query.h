#ifndef TRACELOG_ENGINE_QUERY_QUERY_H_
#define TRACELOG_ENGINE_QUERY_QUERY_H_

// Indexed queries over a log, and its session catalog.
//
// A sealed segment is read through its index (engine/format/sealed_format.h):
// a block is decompressed only if its summary says it can hold a match, and
// a count is taken from the summaries alone when the filters allow (one kind
// of filter, or none). Raw segments (the active one, and rolled ones not
// sealed yet) are scanned; their records carry the keys, so no JSON is parsed.
//
//   QueryEngine q(log);
//   Query spec;
//   spec.tools = {"Bash"};
//   spec.error = true;
//   q.Run(spec, [](uint64_t seq, absl::string_view event) { ...; return true; });

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/format/sealed_format.h"
#include "engine/log/log.h"
#include "engine/query/query_time.h"  // ParseQueryTime, for the users of queries
#include "engine/query/worker_pool.h"

namespace tracelog {

// Filters combine with AND; the values of one list with OR. Empty: no filter.
struct Query {
  std::vector<std::string> sessions;  // full session ids
  std::vector<std::string> types;     // event_type
  std::vector<std::string> tools;     // data.tool_name
  std::vector<std::string> agents;    // agent name in the catalog
  bool error = false;                 // only events flagged as errors
  std::optional<double> since;        // timestamp >= since (epoch seconds)
  std::optional<double> until;        // timestamp < until
  uint64_t limit = 0;                 // stop after this many matches; 0: all
};

struct QueryStats {
  uint64_t segments = 0;
  uint64_t blocks_total = 0;
  uint64_t blocks_read = 0;       // decompressed
  uint64_t blocks_counted = 0;    // counted from the index alone
  uint64_t raw_records = 0;       // scanned in raw segments
  uint64_t corruptions = 0;       // damaged ranges met (reported, skipped)
};

// One session of the catalog: what the log holds of it.
struct CatalogEntry {
  std::string id;
  std::string agent;   // data.agent_name of its session_start
  std::string parent;  // parent_session_id of its session_start
  bool has_timestamp = false;
  double first_timestamp = 0, last_timestamp = 0;
  uint64_t events = 0;
  uint64_t tool_calls = 0;
  uint64_t errors = 0;
  // Events by event_type, by name. The names are interned: they live as long
  // as the process (a std::map per session was most of a catalog's cost).
  std::vector<std::pair<absl::string_view, uint64_t>> types;
  // The events of `type` (0 when none).
  uint64_t Count(absl::string_view type) const;
  std::vector<uint64_t> segments;         // base sequences of the segments holding it
};

class QueryEngine {
 public:
  // `log` must outlive the engine. Indexes are cached across queries.
  // Blocks are decompressed by up to `threads` threads at once (the calling
  // one included); 0: one per core, at most 4.
  explicit QueryEngine(Log* log, int threads = 0);
  ~QueryEngine();

  class StringPool;  // buffers reused across queries (query_internal.h)

  using EventFn = std::function<bool(uint64_t sequence, absl::string_view event)>;
  // Calls `fn` for every matching event, in sequence order, until it returns
  // false or the limit is reached. Damage is reported to `reporter` and
  // skipped. Returns the number of matches delivered.
  absl::StatusOr<uint64_t> Run(const Query& query, const EventFn& fn,
                               QueryStats* stats = nullptr,
                               const CorruptionReporter& reporter = nullptr);
  // As Run, but hands over the matches in runs (in sequence order; views
  // valid during the call only), so that a caller can write many at once
  // without copying them (the CLI's writev). Stops when `fn` returns false
  // (the whole run counts as delivered) or at the limit.
  using BatchFn = std::function<bool(absl::Span<const BlockEvent> events)>;
  absl::StatusOr<uint64_t> RunBatches(const Query& query, const BatchFn& fn,
                                      QueryStats* stats = nullptr,
                                      const CorruptionReporter& reporter = nullptr);
  // The number of matches, from the index where the filters allow.
  absl::StatusOr<uint64_t> Count(const Query& query, QueryStats* stats = nullptr,
                                 const CorruptionReporter& reporter = nullptr);

  // Every session, sorted by id.
  absl::StatusOr<std::vector<CatalogEntry>> Catalog(const CorruptionReporter& reporter = nullptr);
  // A full session id, or an unambiguous prefix of one: the full id.
  // NotFoundError / InvalidArgumentError (ambiguous, naming candidates).
  absl::StatusOr<std::string> ResolveSession(absl::string_view id_or_prefix);

  Log* log() const { return log_; }

 private:
  struct SegmentInfo;
  struct Plan;
  // The segment's index, with its session tables if `sessions`.
  absl::StatusOr<std::shared_ptr<SegmentInfo>> Info(const SegmentSnapshot& seg,
                                                    bool sessions = true);
  bool Cached(const SegmentSnapshot& seg);
  absl::StatusOr<Plan> MakePlan(const Query& query);
  absl::StatusOr<uint64_t> Execute(const Query& query, const BatchFn* fn, QueryStats* stats,
                                   const CorruptionReporter& reporter);
  class Execution;  // one query's run over the segments (query_execution.cc)
  // Drops the cached indexes of segments no longer in `segments` (retention).
  void ForgetGoneSegments(const std::vector<SegmentSnapshot>& segments);

  Log* const log_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<StringPool> blocks_;  // decompression buffers
  std::unique_ptr<StringPool> chunks_;  // arena chunks for copies of matches
  std::mutex mu_;
  absl::flat_hash_map<const void*, std::shared_ptr<SegmentInfo>> infos_;
};


}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_QUERY_H_
