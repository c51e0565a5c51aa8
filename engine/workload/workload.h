#ifndef TRACELOG_ENGINE_WORKLOAD_WORKLOAD_H_
#define TRACELOG_ENGINE_WORKLOAD_WORKLOAD_H_

// A deterministic generator of agent-fleet traces in agent-strace's exact
// text form (compact JSON, ensure_ascii, Python float repr). N agents run M
// sessions whose start times spread over a window; each session is a sequence
// of turns (user prompt, LLM request/response, tool calls with results or
// errors, file reads/writes, decisions, assistant responses) using all 12
// event types, with parent_id links from results to calls. Event sizes have a
// median near 700 bytes and a heavy tail (tool output up to a few MiB); the
// text mixes prose, code, paths and JSON arguments so it compresses like real
// traces. The same seed gives the same bytes on every run and machine.

#include <cstdint>
#include <memory>
#include <deque>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tracelog {

struct WorkloadOptions {
  uint64_t seed = 1;
  int agents = 8;
  int sessions = 64;
  // Mean number of turns per session (each turn is ~6-12 events).
  int turns_per_session = 8;
  double start_time = 1795440000.0;  // epoch seconds of the first session start
  double span_seconds = 3600.0;      // session starts spread over this window
  // Largest tool output, in bytes (the heavy tail is capped here).
  uint64_t max_output_bytes = 2u << 20;
};

// One session's events, generated lazily in timestamp order.
class SessionGenerator {
 public:
  SessionGenerator(const WorkloadOptions& options, int session_index);
  // Appends the next event's JSON (no newline) to *line; false when done.
  bool Next(std::string* line);
  // Timestamp of the event Next() will produce.
  double next_timestamp() const { return ts_; }
  const std::string& session_id() const { return session_id_; }
  const std::string& agent_name() const { return agent_name_; }
  // agent-strace's meta.json text for the events generated so far.
  std::string MetaJson() const;

 private:
  void GenerateTurn();   // queues the events of one more turn
  // The parts of a turn, in order: each queues its events through Emit.
  // `text` and `data` are scratch buffers that the turn's events reuse.
  void EmitUserPrompt(std::string* text, std::string* data);
  void EmitLlmCall(const std::string& model, std::string* text, std::string* data);
  void EmitDecision(std::string* text, std::string* data);
  // A tool call, then its result or error (EmitToolOutcome).
  void EmitToolCall(std::string* text, std::string* data);
  void AppendToolArguments(const std::string& tool, const std::string& path, std::string* text,
                           std::string* data);
  // The result (then EmitFileEvent) or error of the call `call_id`.
  void EmitToolOutcome(const std::string& tool, const std::string& call_id,
                       const std::string& path, std::string* text, std::string* data);
  // A file_read after Read or Grep, a file_write after Edit or Write.
  void EmitFileEvent(const std::string& tool, const std::string& call_id, const std::string& path,
                     size_t out_size, std::string* text, std::string* data);
  void EmitAssistantResponse(std::string* text, std::string* data);
  // An event of `type` whose data is {"<key>": prose of min_bytes +
  // Uniform(span) bytes}, about `gap` seconds after the previous one.
  void EmitProse(const char* type, const char* key, double gap, size_t min_bytes, uint64_t span,
                 std::string* text, std::string* data);
  void Refill();         // queues the next turn, or session_end
  void Emit(const char* type, const std::string& event_id, const std::string& parent_id,
            double duration_ms, const std::string& data);
  std::string NewEventId();
  void Word(std::string* out);
  void Prose(std::string* out, size_t approx_bytes);
  void Code(std::string* out, size_t approx_bytes);
  std::string Path();
  uint64_t Uniform(uint64_t n) { return rng_() % n; }
  double Unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  double Gap(double mean_seconds);  // exponential inter-event gap
  size_t HeavyTailSize(double median);

  const WorkloadOptions options_;
  std::mt19937_64 rng_;
  std::string session_id_;
  std::string agent_name_;
  double clock_;       // time of the last event queued
  double started_at_;
  double ts_;          // timestamp of the queue's front
  int turns_left_;
  bool ended_ = false;
  int tool_calls_ = 0, llm_requests_ = 0, errors_ = 0;
  std::deque<std::pair<double, std::string>> queue_;
};

// The fleet: all sessions' events merged into one stream by timestamp.
class FleetWorkload {
 public:
  explicit FleetWorkload(const WorkloadOptions& options);
  ~FleetWorkload();
  // Appends the next event's JSON (no newline) to *line; false when done.
  bool Next(std::string* line);

 private:
  struct Entry {
    double ts;
    int index;
    bool operator>(const Entry& o) const { return ts != o.ts ? ts > o.ts : index > o.index; }
  };
  std::vector<std::unique_ptr<SessionGenerator>> sessions_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
};

// Writes the whole workload as one NDJSON stream to `path` ("-" = stdout).
absl::Status WriteFleetNdjson(const WorkloadOptions& options, const std::string& path,
                              uint64_t* bytes_written);
// Writes the workload as an agent-strace directory: root/<session>/meta.json +
// events.ndjson (files 0600, directories 0700).
absl::Status WriteAgentStraceDir(const WorkloadOptions& options, const std::string& root,
                                 uint64_t* bytes_written);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_WORKLOAD_WORKLOAD_H_
