#include "engine/workload/workload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/io/errno_status.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog {
namespace {

constexpr const char* kWords[] = {
    "the", "file", "function", "test", "error", "value", "returns", "config", "user", "request",
    "handler", "should", "because", "update", "check", "build", "module", "import", "path", "data",
    "output", "input", "string", "list", "missing", "failed", "pass", "run", "command", "query",
    "index", "cache", "server", "client", "response", "timeout", "retry", "parse", "token", "model",
    "agent", "session", "event", "log", "write", "read", "commit", "branch", "merge", "diff",
    "line", "column", "type", "class", "method", "field", "async", "await", "promise", "callback",
    "database", "schema", "migration", "table", "row", "key", "hash", "sort", "filter", "map",
    "let", "me", "look", "at", "this", "now", "I", "will", "fix", "it", "by", "changing", "a",
    "to", "and", "then", "in", "of", "for", "with", "is", "that", "we", "need", "first", "see",
    "what", "happens", "when", "calling", "refactor", "simplify", "lint", "warning", "deprecated",
    "null", "pointer", "undefined", "exception", "stack", "trace", "memory", "leak", "thread",
    "lock", "mutex", "race", "condition", "performance", "latency", "throughput", "benchmark",
};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

constexpr const char* kCodeLines[] = {
    "def handle_request(self, request):",
    "    return self._cache.get(key) or self._load(key)",
    "import os, sys, json",
    "for i, item in enumerate(items):",
    "    if item.status == 'failed': retries += 1",
    "const result = await client.query({ sql, params });",
    "export function parseConfig(text: string): Config {",
    "  if (!config.enabled) { return null; }",
    "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {",
    "\terr := json.NewDecoder(r.Body).Decode(&req)",
    "#include <vector>",
    "absl::Status Log::Append(absl::string_view event) {",
    "    assert response.status_code == 200, response.text",
    "SELECT id, name, created_at FROM users WHERE org_id = ? ORDER BY created_at DESC;",
    "    logger.info(\"processed %d events in %.2fs\", n, elapsed)",
    "class TraceStore:",
    "        raise ValueError(f\"invalid session id: {sid!r}\")",
    "  }",
    "}",
    "",
    "test_parser.py::test_roundtrip PASSED",
    "test_store.py::test_concurrent_writes FAILED",
    "npm ERR! code ELIFECYCLE",
    "warning: unused variable `buf` [-Wunused-variable]",
    "    at Object.<anonymous> (/app/src/index.js:42:13)",
};
constexpr size_t kNumCodeLines = sizeof(kCodeLines) / sizeof(kCodeLines[0]);

constexpr const char* kDirs[] = {"src", "lib", "tests", "app", "pkg", "internal", "docs",
                                 "scripts", "engine", "tools", "api", "web"};
constexpr const char* kFiles[] = {"main", "server", "client", "utils", "config", "store",
                                  "handler", "parser", "models", "index", "cli", "auth"};
constexpr const char* kExts[] = {".py", ".ts", ".go", ".rs", ".cc", ".md", ".json", ".js"};
constexpr const char* kTools[] = {"Bash", "Read", "Edit", "Grep", "Glob", "Write",
                                  "WebFetch", "WebSearch", "Agent", "mcp__github__create_issue"};
constexpr size_t kNumTools = sizeof(kTools) / sizeof(kTools[0]);
constexpr const char* kModels[] = {"claude-sonnet-4-5", "claude-opus-4", "gpt-5", "gemini-2.5-pro"};
constexpr const char* kAgentKinds[] = {"claude-code", "research-bot", "ci-fixer", "triage-agent",
                                       "doc-writer", "data-analyst", "sre-oncall", "reviewer"};

}  // namespace

SessionGenerator::SessionGenerator(const WorkloadOptions& options, int session_index)
    : options_(options), rng_(options.seed * 0x9E3779B97F4A7C15ull + session_index) {
  session_id_ = absl::StrFormat("%016x", rng_());
  const int agent = session_index % std::max(1, options.agents);
  agent_name_ = absl::StrCat(kAgentKinds[agent % 8], "-", agent);
  const double slot = options.span_seconds / std::max(1, options.sessions);
  started_at_ = options.start_time + slot * session_index + Unit() * slot;
  clock_ = started_at_;
  turns_left_ = 1 + static_cast<int>(Uniform(2 * std::max(1, options.turns_per_session)));
  std::string data = "{\"agent_name\":";
  AppendPyJsonString(&data, agent_name_);
  data += "}";
  Emit("session_start", NewEventId(), "", -1, data);
  ts_ = queue_.front().first;
}

double SessionGenerator::Gap(double mean_seconds) {
  return -std::log(1.0 - Unit()) * mean_seconds + 0.001;
}

std::string SessionGenerator::NewEventId() { return absl::StrFormat("%012x", rng_() >> 16); }

size_t SessionGenerator::HeavyTailSize(double median) {
  // Mostly log-normal (sigma 1.0) around the median; one output in a
  // thousand is huge (log-uniform from 32 KiB to max_output_bytes).
  if (Uniform(1000) == 0) {
    const double lo = std::log(32768.0);
    const double hi = std::log(static_cast<double>(std::max<uint64_t>(options_.max_output_bytes, 65536)));
    return static_cast<size_t>(std::exp(lo + Unit() * (hi - lo)));
  }
  const double u1 = Unit(), u2 = Unit();
  const double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
  const double v = median * std::exp(1.0 * z);
  return static_cast<size_t>(std::min<double>(v, static_cast<double>(options_.max_output_bytes)));
}

void SessionGenerator::Word(std::string* out) {
  // A made-up word from random syllables: real traces have a large,
  // project-specific vocabulary (identifiers, names) that a fixed word list
  // would make far too compressible.
  static constexpr const char* kSyl[] = {"ka", "ro", "mi", "ten", "sa", "lo", "ver", "qu", "ix",
                                         "dor", "pel", "an", "fu", "zen", "tri", "ob", "gra", "ly"};
  const int n = 2 + static_cast<int>(Uniform(3));
  for (int i = 0; i < n; ++i) out->append(kSyl[Uniform(18)]);
}

void SessionGenerator::Prose(std::string* out, size_t approx_bytes) {
  const size_t start = out->size();
  bool cap = true;
  while (out->size() - start < approx_bytes) {
    const size_t word_start = out->size();
    const uint64_t r = Uniform(16);
    if (r < 2) {
      Word(out);
    } else if (r == 2) {
      absl::StrAppend(out, Uniform(100000));
    } else {
      out->append(kWords[Uniform(kNumWords)]);
    }
    if (cap) (*out)[word_start] = static_cast<char>(std::toupper((*out)[word_start]));
    cap = Uniform(12) == 0;
    out->append(cap ? ". " : " ");
  }
}

void SessionGenerator::Code(std::string* out, size_t approx_bytes) {
  const size_t start = out->size();
  while (out->size() - start < approx_bytes) {
    out->append(kCodeLines[Uniform(kNumCodeLines)]);
    const uint64_t r = Uniform(4);
    if (r == 0) {
      absl::StrAppend(out, "  # ", kWords[Uniform(kNumWords)], " ", Uniform(100000));
    } else if (r == 1) {
      out->append("  ");
      Word(out);
      absl::StrAppend(out, "_", kWords[Uniform(kNumWords)], " = ", Uniform(1 << 20));
    }
    out->push_back('\n');
  }
}

std::string SessionGenerator::Path() {
  std::string p = "/home/dev/project/";
  const int depth = 1 + static_cast<int>(Uniform(3));
  for (int i = 0; i < depth; ++i) absl::StrAppend(&p, kDirs[Uniform(12)], "/");
  absl::StrAppend(&p, kFiles[Uniform(12)], kExts[Uniform(8)]);
  return p;
}

void SessionGenerator::Emit(const char* type, const std::string& event_id,
                            const std::string& parent_id, double duration_ms,
                            const std::string& data) {
  std::string line;
  line.reserve(data.size() + 160);
  absl::StrAppend(&line, "{\"event_type\":\"", type, "\",\"timestamp\":");
  AppendPyFloat(&line, clock_);
  absl::StrAppend(&line, ",\"event_id\":\"", event_id, "\",\"session_id\":");
  AppendPyJsonString(&line, session_id_);
  if (!parent_id.empty()) absl::StrAppend(&line, ",\"parent_id\":\"", parent_id, "\"");
  if (duration_ms >= 0) {
    line += ",\"duration_ms\":";
    AppendPyFloat(&line, duration_ms);
  }
  absl::StrAppend(&line, ",\"data\":", data, "}");
  queue_.emplace_back(clock_, std::move(line));
}

void SessionGenerator::GenerateTurn() {
  std::string text, data;
  const std::string model = kModels[Uniform(4)];
  EmitUserPrompt(&text, &data);
  EmitLlmCall(model, &text, &data);
  if (Uniform(3) == 0) EmitDecision(&text, &data);
  const int calls = 1 + static_cast<int>(Uniform(6));
  for (int c = 0; c < calls; ++c) EmitToolCall(&text, &data);
  EmitAssistantResponse(&text, &data);
}

void SessionGenerator::EmitProse(const char* type, const char* key, double gap, size_t min_bytes,
                                 uint64_t span, std::string* text, std::string* data) {
  clock_ += Gap(gap);
  text->clear();
  Prose(text, min_bytes + Uniform(span));
  *data = absl::StrCat("{\"", key, "\":");
  AppendPyJsonString(data, *text);
  *data += "}";
  Emit(type, NewEventId(), "", -1, *data);
}

void SessionGenerator::EmitUserPrompt(std::string* text, std::string* data) {
  EmitProse("user_prompt", "prompt", 20.0, 150, 1000, text, data);
}

void SessionGenerator::EmitLlmCall(const std::string& model, std::string* text,
                                   std::string* data) {
  clock_ += Gap(0.5);
  const std::string llm_id = NewEventId();
  *data = absl::StrCat("{\"method\":\"messages.create\",\"message_count\":", 2 + Uniform(40),
                       ",\"model\":\"", model, "\"}");
  ++llm_requests_;
  Emit("llm_request", llm_id, "", -1, *data);
  const double llm_ms = 300 + Unit() * 8000;
  clock_ += llm_ms / 1000;
  text->clear();
  Prose(text, 200 + Uniform(600));
  *data = "{\"content_preview\":";
  AppendPyJsonString(data, *text);
  absl::StrAppend(data, ",\"input_tokens\":", 500 + Uniform(20000), ",\"output_tokens\":",
                  20 + Uniform(2000), "}");
  Emit("llm_response", NewEventId(), llm_id, llm_ms, *data);
}

void SessionGenerator::EmitDecision(std::string* text, std::string* data) {
  clock_ += Gap(0.2);
  text->clear();
  Prose(text, 80 + Uniform(200));
  *data = absl::StrCat("{\"choice\":\"", kTools[Uniform(kNumTools)], "\",\"reason\":");
  AppendPyJsonString(data, *text);
  absl::StrAppend(data, ",\"alternatives\":[\"", kTools[Uniform(kNumTools)], "\",\"",
                  kTools[Uniform(kNumTools)], "\"]}");
  Emit("decision", NewEventId(), "", -1, *data);
}

void SessionGenerator::EmitToolCall(std::string* text, std::string* data) {
  const std::string tool = kTools[Uniform(kNumTools)];
  clock_ += Gap(1.0);
  const std::string call_id = NewEventId();
  const std::string path = Path();
  *data = absl::StrCat("{\"tool_name\":\"", tool, "\",\"arguments\":{");
  AppendToolArguments(tool, path, text, data);
  *data += "}}";
  ++tool_calls_;
  Emit("tool_call", call_id, "", -1, *data);
  EmitToolOutcome(tool, call_id, path, text, data);
}

void SessionGenerator::AppendToolArguments(const std::string& tool, const std::string& path,
                                           std::string* text, std::string* data) {
  if (tool == "Bash") {
    *data += "\"command\":";
    AppendPyJsonString(data, absl::StrCat(Uniform(2) ? "pytest -x " : "rg -n ",
                                          kWords[Uniform(kNumWords)], " ", path));
    absl::StrAppend(data, ",\"timeout\":", 120000, ",\"description\":");
    text->clear();
    Prose(text, 100 + Uniform(400));
    AppendPyJsonString(data, *text);
  } else if (tool == "Edit" || tool == "Write") {
    *data += "\"file_path\":";
    AppendPyJsonString(data, path);
    *data += ",\"old_string\":";
    text->clear();
    Code(text, 100 + Uniform(500));
    AppendPyJsonString(data, *text);
    *data += ",\"new_string\":";
    text->clear();
    Code(text, 100 + Uniform(700));
    AppendPyJsonString(data, *text);
  } else if (tool == "WebFetch" || tool == "WebSearch") {
    absl::StrAppend(data, "\"url\":\"https://docs.example.com/", kWords[Uniform(kNumWords)], "/",
                    kWords[Uniform(kNumWords)], "\",\"prompt\":");
    text->clear();
    Prose(text, 100 + Uniform(400));
    AppendPyJsonString(data, *text);
  } else {
    *data += "\"path\":";
    AppendPyJsonString(data, path);
    absl::StrAppend(data, ",\"pattern\":\"", kWords[Uniform(kNumWords)], "\",\"context\":");
    text->clear();
    Prose(text, 150 + Uniform(500));
    AppendPyJsonString(data, *text);
  }
}

void SessionGenerator::EmitToolOutcome(const std::string& tool, const std::string& call_id,
                                       const std::string& path, std::string* text,
                                       std::string* data) {
  const double ms = tool == "Bash" ? 50 + Unit() * 20000 : 1 + Unit() * 400;
  clock_ += ms / 1000;
  const bool fail = Uniform(20) == 0;
  if (fail) {
    ++errors_;
    text->clear();
    absl::StrAppend(text, "Error: ", kWords[Uniform(kNumWords)], " failed: ");
    Code(text, 40 + Uniform(200));
    *data = absl::StrCat("{\"tool_name\":\"", tool, "\",\"error\":");
    AppendPyJsonString(data, *text);
    *data += "}";
    Emit("error", NewEventId(), call_id, ms, *data);
    return;
  }
  text->clear();
  const size_t out_size = HeavyTailSize(1000);
  if (tool == "WebFetch" || tool == "WebSearch") {
    Prose(text, out_size);
  } else {
    Code(text, out_size);
  }
  *data = absl::StrCat("{\"tool_name\":\"", tool, "\",\"result\":");
  AppendPyJsonString(data, *text);
  if (Uniform(50) == 0) *data += ",\"is_error\":true";
  *data += "}";
  Emit("tool_result", NewEventId(), call_id, ms, *data);
  EmitFileEvent(tool, call_id, path, out_size, text, data);
}

void SessionGenerator::EmitFileEvent(const std::string& tool, const std::string& call_id,
                                     const std::string& path, size_t out_size,
                                     std::string* text, std::string* data) {
  if (tool == "Read" || tool == "Grep") {
    clock_ += 0.001 + Unit() * 0.01;
    *data = "{\"path\":";
    AppendPyJsonString(data, path);
    absl::StrAppend(data, ",\"bytes\":", out_size, ",\"preview\":");
    text->clear();
    Code(text, 150 + Uniform(500));
    AppendPyJsonString(data, *text);
    *data += "}";
    Emit("file_read", NewEventId(), call_id, -1, *data);
  } else if (tool == "Edit" || tool == "Write") {
    clock_ += 0.001 + Unit() * 0.01;
    *data = "{\"path\":";
    AppendPyJsonString(data, path);
    absl::StrAppend(data, ",\"bytes\":", 100 + Uniform(20000), ",\"diff\":");
    text->clear();
    Code(text, 150 + Uniform(600));
    AppendPyJsonString(data, *text);
    *data += "}";
    Emit("file_write", NewEventId(), call_id, -1, *data);
  }
}

void SessionGenerator::EmitAssistantResponse(std::string* text, std::string* data) {
  EmitProse("assistant_response", "text", 2.0, 300, 1200, text, data);
}

void SessionGenerator::Refill() {
  if (turns_left_ > 0) {
    --turns_left_;
    GenerateTurn();
  } else if (!ended_) {
    ended_ = true;
    clock_ += Gap(1.0);
    std::string data = "{\"duration_ms\":";
    AppendPyFloat(&data, (clock_ - started_at_) * 1000);
    absl::StrAppend(&data, ",\"tool_calls\":", tool_calls_, ",\"errors\":", errors_, "}");
    Emit("session_end", NewEventId(), "", -1, data);
  }
}

bool SessionGenerator::Next(std::string* line) {
  if (queue_.empty()) return false;
  line->append(queue_.front().second);
  queue_.pop_front();
  if (queue_.empty()) Refill();  // keep next_timestamp() exact for the merge
  if (!queue_.empty()) ts_ = queue_.front().first;
  return true;
}

std::string SessionGenerator::MetaJson() const {
  // SessionMeta.to_json: indent=2, zero/empty values dropped, no final newline.
  std::string m = "{\n  \"session_id\": ";
  AppendPyJsonString(&m, session_id_);
  m += ",\n  \"started_at\": ";
  AppendPyFloat(&m, started_at_);
  m += ",\n  \"ended_at\": ";
  AppendPyFloat(&m, clock_);
  m += ",\n  \"agent_name\": ";
  AppendPyJsonString(&m, agent_name_);
  if (tool_calls_ != 0) absl::StrAppend(&m, ",\n  \"tool_calls\": ", tool_calls_);
  if (llm_requests_ != 0) absl::StrAppend(&m, ",\n  \"llm_requests\": ", llm_requests_);
  if (errors_ != 0) absl::StrAppend(&m, ",\n  \"errors\": ", errors_);
  m += ",\n  \"total_duration_ms\": ";
  AppendPyFloat(&m, (clock_ - started_at_) * 1000);
  m += ",\n  \"attribution\": {}\n}";
  return m;
}

FleetWorkload::FleetWorkload(const WorkloadOptions& options) {
  sessions_.reserve(options.sessions);
  for (int i = 0; i < options.sessions; ++i) {
    sessions_.push_back(std::make_unique<SessionGenerator>(options, i));
    heap_.push(Entry{sessions_.back()->next_timestamp(), i});
  }
}

FleetWorkload::~FleetWorkload() = default;

bool FleetWorkload::Next(std::string* line) {
  while (!heap_.empty()) {
    Entry e = heap_.top();
    heap_.pop();
    SessionGenerator& s = *sessions_[e.index];
    if (s.Next(line)) {
      heap_.push(Entry{s.next_timestamp(), e.index});
      return true;
    }
  }
  return false;
}

namespace {

class OutFile {
 public:
  absl::Status Open(const std::string& path) {
    path_ = path;
    if (path == "-") {
      fd_ = 1;
      return absl::OkStatus();
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) return ErrnoStatus(errno, "open", path);
    return absl::OkStatus();
  }
  absl::Status Write(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write", path_);
      }
      off += n;
    }
    return absl::OkStatus();
  }
  absl::Status Close() {
    if (fd_ > 2 && ::close(fd_) != 0) return ErrnoStatus(errno, "close", path_);
    fd_ = -1;
    return absl::OkStatus();
  }
  ~OutFile() {
    if (fd_ > 2) ::close(fd_);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

absl::Status WriteFleetNdjson(const WorkloadOptions& options, const std::string& path,
                              uint64_t* bytes_written) {
  OutFile out;
  if (auto s = out.Open(path); !s.ok()) return s;
  FleetWorkload fleet(options);
  std::string buf;
  uint64_t total = 0;
  while (fleet.Next(&buf)) {
    buf.push_back('\n');
    if (buf.size() >= (1 << 20)) {
      if (auto s = out.Write(buf); !s.ok()) return s;
      total += buf.size();
      buf.clear();
    }
  }
  if (auto s = out.Write(buf); !s.ok()) return s;
  total += buf.size();
  if (bytes_written != nullptr) *bytes_written = total;
  return out.Close();
}

absl::Status WriteAgentStraceDir(const WorkloadOptions& options, const std::string& root,
                                 uint64_t* bytes_written) {
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", root);
  }
  uint64_t total = 0;
  std::string buf;
  for (int i = 0; i < options.sessions; ++i) {
    SessionGenerator s(options, i);
    const std::string dir = root + "/" + s.session_id();
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "mkdir", dir);
    }
    buf.clear();
    while (s.Next(&buf)) buf.push_back('\n');
    OutFile ev;
    if (auto st = ev.Open(dir + "/events.ndjson"); !st.ok()) return st;
    if (auto st = ev.Write(buf); !st.ok()) return st;
    if (auto st = ev.Close(); !st.ok()) return st;
    total += buf.size();
    const std::string meta = s.MetaJson();
    OutFile mf;
    if (auto st = mf.Open(dir + "/meta.json"); !st.ok()) return st;
    if (auto st = mf.Write(meta); !st.ok()) return st;
    if (auto st = mf.Close(); !st.ok()) return st;
    total += meta.size();
  }
  if (bytes_written != nullptr) *bytes_written = total;
  return absl::OkStatus();
}

}  // namespace tracelog
