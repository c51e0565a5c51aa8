#ifndef TRACELOG_ENGINE_QUERY_SESSION_STATS_H_
#define TRACELOG_ENGINE_QUERY_SESSION_STATS_H_

// Summary statistics of agent events (`tracelog stats`), computed as
// agent-strace's `stats` computes them (../shared/agent-strace-cli.md),
// over one session or many:
//
//   * tool frequency: tool_call events by data.tool_name ("unknown" when
//     absent or empty);
//   * latency: a tool_result whose parent_id is the event_id of a tool_call
//     of the same session gives its duration_ms (when it has one) as a
//     sample of that call's tool; mean = sum / count, as agent-strace;
//     percentiles by nearest rank (NearestRank below);
//   * errors of a tool: error events whose parent_id names a tool_call of
//     that tool, else whose data.tool_name names it;
//   * error messages: data.message, else data.error, else "unknown", grouped;
//   * LLM calls: llm_request events; tokens: data.input_tokens,
//     data.output_tokens, data.total_tokens (integers) summed (see
//     TokenCount for session_end's own counters);
//   * duration: latest timestamp - earliest, in milliseconds.
//
// Pairing does not depend on the order of the events: a result or an error
// met before its tool_call is paired once the call is seen. When two
// tool_calls of a session share an event_id, the later one names the tool
// of what follows them, as a Python dict of calls keyed by event_id would;
// merged partials (stats_cache.h) may pair such a result with the other of
// the two when they are in different segments (agent-strace's event ids
// are unique per session, so only hand-made logs have them).
//
//   SessionStatsBuilder b;
//   for (each event of the sessions, in sequence order) b.Add(event);
//   SessionStats s = std::move(b).Finish();

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/format/segment_format.h"  // EventKeys

namespace tracelog {

// The value at nearest rank `percent` of `sorted` (ascending, not empty):
// the smallest sample with at least `percent` % of the samples at or below
// it, i.e. sorted[ceil(percent / 100 * n) - 1], at least sorted[0]. No
// interpolation: a percentile is always a latency that was measured.
double NearestRank(const std::vector<double>& sorted, int percent);

struct ToolStats {
  std::string name;
  uint64_t calls = 0;   // tool_call events
  uint64_t errors = 0;  // error events attributed to the tool
  // duration_ms of the results paired with its calls, ascending.
  std::vector<double> latencies_ms;
  double latency_sum_ms = 0;  // summed in the order the results came

  // Unset when there is no sample.
  std::optional<double> MeanMs() const;
  std::optional<double> PercentileMs(int percent) const;
  std::optional<double> MaxMs() const;
};

// A token counter (data.input_tokens, ...). Per session, the events other
// than session_end are summed; a session whose other events carry none of
// the counter takes its session_end's (agent-strace's Claude Code import
// writes the session's total_tokens there only, and nowhere else), so that a
// session's tokens are never counted twice.
struct TokenCount {
  int64_t sum = 0;
  bool present = false;  // some event carried the counter
};

struct SessionStats {
  uint64_t sessions = 0;  // distinct session_id values among the events
  uint64_t events = 0;
  std::map<std::string, uint64_t> by_type;  // events by event_type ("" if none)
  // By calls (most first), then name. Includes a tool that only errors name.
  std::vector<ToolStats> tools;
  uint64_t errors = 0;  // error events
  // Error texts with their counts, by count (most first), then text.
  std::vector<std::pair<std::string, uint64_t>> error_messages;
  uint64_t llm_requests = 0;
  TokenCount input_tokens, output_tokens, total_tokens;
  bool has_timestamp = false;
  double first_timestamp = 0, last_timestamp = 0;  // earliest and latest, epoch seconds

  // (last_timestamp - first_timestamp) * 1000; unset without timestamps.
  std::optional<double> DurationMs() const;
};

// Accumulates events (possibly of many sessions, interleaved) into
// SessionStats. Memory: one entry per tool_call (its event_id, to pair the
// results with), one double per latency sample, one entry per distinct
// error text. Not thread-safe.
class SessionStatsBuilder {
 public:
  SessionStatsBuilder();
  ~SessionStatsBuilder();
  SessionStatsBuilder(const SessionStatsBuilder&) = delete;
  SessionStatsBuilder& operator=(const SessionStatsBuilder&) = delete;

  // Adds one stored event (a JSON object). A line that is not one is
  // counted as an event of type "" and nothing more.
  void Add(absl::string_view event);
  // The same, with the event's index keys already read (a raw record's, a
  // log reader's): no second extraction.
  void Add(absl::string_view event, const EventKeys& keys);

  // Partials: the state of a builder as bytes (format-spec/README.md, "Stats
  // cache"), merged into another as if its events had been added there.
  // What a partial keeps of the pairing: the tool_calls that no result or
  // error among its events named, and the results and errors whose call was
  // not among them. Resolves what pairs within the builder first.
  std::string SerializePartial();
  // DataLossError (nothing merged) when `bytes` is not a partial.
  absl::Status MergePartial(absl::string_view bytes);
  // Sessions holding a result or an error whose tool_call is not among the
  // events (and partials) added: after merging partials, a call that a
  // result in its own partial already named. Their tool_calls, from the
  // log, go to AddCallForPairing before Finish.
  std::vector<std::string> UnpairedSessions();
  // Registers a tool_call's event_id and tool for pairing without counting
  // it; an event_id the session already knows keeps its tool.
  void AddCallForPairing(absl::string_view event);

  // The statistics of every event added; the builder is spent.
  SessionStats Finish() &&;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_SESSION_STATS_H_
