// ExportSession: one session in agent-strace's `export --format` shapes.
// agent-strace loads each line as a TraceEvent (json.loads, then the
// dataclass) and writes it back with json.dumps: fields in dataclass order,
// None and "" dropped, numbers and strings as Python writes them. This file
// re-serializes events that way (simdjson On-Demand for the parsing,
// engine/ndjson/pyjson.h for the text).

#include <simdjson.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/attachments.h"
#include "engine/format/event_keys.h"
#include "engine/ndjson/exporter.h"
#include "engine/ndjson/session_meta.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog {

namespace {

namespace od = simdjson::ondemand;

struct Style {
  int indent = -1;               // < 0: one line
  const char* item_sep = ",";    // between items of one line
  const char* key_sep = ":";
};

void Newline(const Style& st, int depth, std::string* out) {
  out->push_back('\n');
  out->append(static_cast<size_t>(st.indent * depth), ' ');
}

std::string_view Trim(std::string_view raw) {
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                          raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  return raw;
}

// A number token as Python's json.loads then json.dumps writes it: ints of
// any size as their digits ("-0" is 0), floats as repr(float).
void AppendPyNumber(std::string_view raw, std::string* out) {
  raw = Trim(raw);
  if (raw == "NaN" || raw == "Infinity" || raw == "-Infinity") {
    out->append(raw.data(), raw.size());
    return;
  }
  if (raw.find_first_of(".eE") == std::string_view::npos) {
    std::string_view digits = raw;
    const bool negative = !digits.empty() && digits[0] == '-';
    if (negative) digits.remove_prefix(1);
    if (digits.find_first_not_of('0') == std::string_view::npos) {
      out->push_back('0');
      return;
    }
    if (negative) out->push_back('-');
    out->append(digits.data(), digits.size());
    return;
  }
  const std::string text(raw);
  AppendPyFloat(out, std::strtod(text.c_str(), nullptr));
}

simdjson::error_code AppendValue(od::value v, const Style& st, int depth, std::string* out);

simdjson::error_code AppendObject(od::object obj, const Style& st, int depth, std::string* out) {
  // Duplicate keys keep the first position and the last value, as a dict.
  std::vector<std::pair<std::string, std::string>> fields;
  std::map<std::string, size_t> at;
  for (auto fr : obj) {
    od::field field;
    if (auto err = std::move(fr).get(field)) return err;
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return err;
    std::string value;
    if (auto err = AppendValue(field.value(), st, depth + 1, &value)) return err;
    auto [it, inserted] = at.try_emplace(std::string(key), fields.size());
    if (inserted) {
      fields.emplace_back(std::string(key), std::move(value));
    } else {
      fields[it->second].second = std::move(value);
    }
  }
  if (fields.empty()) {
    out->append("{}");
    return simdjson::SUCCESS;
  }
  out->push_back('{');
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out->append(st.indent >= 0 ? "," : st.item_sep);
    if (st.indent >= 0) Newline(st, depth + 1, out);
    AppendPyJsonString(out, fields[i].first);
    out->append(st.key_sep);
    out->append(fields[i].second);
  }
  if (st.indent >= 0) Newline(st, depth, out);
  out->push_back('}');
  return simdjson::SUCCESS;
}

simdjson::error_code AppendValue(od::value v, const Style& st, int depth, std::string* out) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) {
    AppendPyNumber(v.raw_json_token(), out);  // NaN, Infinity
    return simdjson::SUCCESS;
  }
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (auto err = v.get_object().get(obj)) return err;
      return AppendObject(obj, st, depth, out);
    }
    case od::json_type::array: {
      od::array arr;
      if (auto err = v.get_array().get(arr)) return err;
      bool any = false;
      std::string items;
      for (auto er : arr) {
        od::value e;
        if (auto err = std::move(er).get(e)) return err;
        if (any) items.append(st.indent >= 0 ? "," : st.item_sep);
        if (st.indent >= 0) Newline(st, depth + 1, &items);
        if (auto err = AppendValue(e, st, depth + 1, &items)) return err;
        any = true;
      }
      if (!any) {
        out->append("[]");
        return simdjson::SUCCESS;
      }
      out->push_back('[');
      out->append(items);
      if (st.indent >= 0) Newline(st, depth, out);
      out->push_back(']');
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) {
        AppendPyJsonString(out, absl::string_view(s.data(), s.size()));
      } else {
        const std::string_view raw = Trim(v.raw_json_token());  // a lone surrogate: as written
        out->append(raw.data(), raw.size());
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      AppendPyNumber(v.raw_json_token(), out);
      return simdjson::SUCCESS;
    case od::json_type::boolean: {
      bool b = false;
      if (auto err = v.get_bool().get(b)) return err;
      out->append(b ? "true" : "false");
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = v.is_null().get(is_null)) return err;
      out->append("null");
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// The fields of a TraceEvent, in dataclass order, as serialized values
// (empty: absent, None or "").
struct EventFields {
  static constexpr const char* kNames[] = {"event_type", "timestamp", "event_id", "session_id",
                                           "parent_id",  "duration_ms", "data"};
  std::string value[7];
  std::string text[7];  // the value of string fields, decoded; of numbers, as Python's str()
};

absl::Status ParseEvent(absl::string_view line, const Style& st, int depth, EventFields* f) {
  simdjson::padded_string padded(line.data(), line.size());
  od::parser parser;
  od::document doc;
  if (auto err = parser.iterate(padded).get(doc)) {
    return absl::DataLossError(absl::StrCat("stored event is not JSON: ", simdjson::error_message(err)));
  }
  od::object obj;
  if (auto err = doc.get_object().get(obj)) {
    return absl::DataLossError(absl::StrCat("stored event is not an object: ", simdjson::error_message(err)));
  }
  for (auto fr : obj) {
    od::field field;
    if (auto err = std::move(fr).get(field)) return absl::DataLossError(simdjson::error_message(err));
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return absl::DataLossError(simdjson::error_message(err));
    int k = -1;
    for (int i = 0; i < 7; ++i) {
      if (key == EventFields::kNames[i]) k = i;
    }
    if (k < 0) continue;  // TraceEvent has no such field (agent-strace would refuse the line)
    od::value v = field.value();
    f->value[k].clear();
    f->text[k].clear();
    od::json_type type;
    const bool typed = v.type().get(type) == simdjson::SUCCESS;
    if (typed && type == od::json_type::null) continue;  // None: dropped
    if (typed && type == od::json_type::string) {
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) {
        if (s.empty()) continue;  // "": dropped
        f->text[k].assign(s.data(), s.size());
        AppendPyJsonString(&f->value[k], f->text[k]);
        continue;
      }
    }
    if (auto err = AppendValue(v, st, depth, &f->value[k])) {
      return absl::DataLossError(simdjson::error_message(err));
    }
    f->text[k] = f->value[k];
  }
  return absl::OkStatus();
}

void AppendEventObject(const EventFields& f, const Style& st, int depth, std::string* out) {
  out->push_back('{');
  bool any = false;
  for (int i = 0; i < 7; ++i) {
    if (f.value[i].empty()) continue;
    if (any) out->append(st.indent >= 0 ? "," : st.item_sep);
    if (st.indent >= 0) Newline(st, depth + 1, out);
    absl::StrAppend(out, "\"", EventFields::kNames[i], "\"", st.key_sep, f.value[i]);
    any = true;
  }
  if (any && st.indent >= 0) Newline(st, depth, out);
  out->push_back('}');
}

// A field of Python's csv.writer (excel dialect): quoted when it holds a
// comma, a quote or a line break, quotes doubled.
void AppendCsvField(absl::string_view v, std::string* out) {
  if (v.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out->append(v.data(), v.size());
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

// Writes events in one of agent-strace's export shapes, handing the text to
// `write` in pieces of about 1 MiB.
class SessionEmitter {
 public:
  enum class Format { kNdjson, kJson, kCsv };

  // `write` must outlive the emitter.
  SessionEmitter(Format format, const std::function<bool(absl::string_view)>& write)
      : format_(format), write_(write) {
    if (format_ == Format::kCsv) out_ = "timestamp,event_type,event_id,parent_id,duration_ms,data\r\n";
  }

  // Writes one event; false stops (status() says why, or the writer
  // refused).
  bool Emit(absl::string_view event) {
    EventFields f;
    const Style& st = format_ == Format::kJson  ? kIndented
                      : format_ == Format::kCsv ? kSpaced
                                                : kCompact;
    if (auto s = ParseEvent(event, st, format_ == Format::kJson ? 2 : 0, &f); !s.ok()) {
      failed_ = s;
      return false;
    }
    if (format_ == Format::kNdjson) {
      AppendEventObject(f, kCompact, 0, &out_);
      out_.push_back('\n');
    } else if (format_ == Format::kJson) {
      out_.append(first_ ? "[" : ",");
      Newline(kIndented, 1, &out_);
      AppendEventObject(f, kIndented, 1, &out_);
    } else {
      AppendCsvRow(f);
    }
    first_ = false;
    if (out_.size() >= (1 << 20)) {
      if (!write_(out_)) return false;
      out_.clear();
    }
    return true;
  }

  // Why Emit stopped, if not because the writer refused.
  const absl::Status& status() const { return failed_; }

  // Ends the output (the json list) and writes what is left of it.
  void Finish() {
    if (format_ == Format::kJson) out_.append(first_ ? "[]\n" : "\n]\n");
    if (!out_.empty()) write_(out_);
  }

 private:
  static constexpr Style kCompact{-1, ",", ":"};
  static constexpr Style kIndented{2, ",", ": "};
  static constexpr Style kSpaced{-1, ", ", ": "};  // json.dumps defaults (the csv's data column)

  // timestamp, event_type, event_id, parent_id, duration_ms or "",
  // json.dumps(data).
  void AppendCsvRow(const EventFields& f) {
    AppendCsvField(f.text[1], &out_);
    out_.push_back(',');
    AppendCsvField(f.text[0], &out_);
    out_.push_back(',');
    AppendCsvField(f.text[2], &out_);
    out_.push_back(',');
    AppendCsvField(f.text[4], &out_);
    out_.push_back(',');
    const std::string& d = f.text[5];
    if (d != "0.0" && d != "0") AppendCsvField(d, &out_);
    out_.push_back(',');
    AppendCsvField(f.value[6].empty() ? "{}" : f.value[6], &out_);
    out_.append("\r\n");
  }

  const Format format_;
  const std::function<bool(absl::string_view)>& write_;
  std::string out_;
  absl::Status failed_;
  bool first_ = true;
};

// Walks the lines of an imported session's events.ndjson: the sequence
// ranges [first, end) of its layout, in file order.
class LineWalk {
 public:
  explicit LineWalk(std::vector<std::pair<uint64_t, uint64_t>> ranges)
      : ranges_(std::move(ranges)), next_(ranges_.empty() ? 0 : ranges_[0].first) {}

  // Whether every line has been passed.
  bool done() const { return r_ == ranges_.size(); }
  // The sequence of the next line.
  uint64_t next() const { return next_; }
  void Advance() {
    if (++next_ == ranges_[r_].second && ++r_ < ranges_.size()) next_ = ranges_[r_].first;
  }

 private:
  const std::vector<std::pair<uint64_t, uint64_t>> ranges_;
  size_t r_ = 0;  // the range of next_
  uint64_t next_;
};

// The layout's ranges as [first, end), the empty ones dropped.
// DataLossError when they are not in sequence order.
absl::StatusOr<std::vector<std::pair<uint64_t, uint64_t>>> LineRanges(
    const std::string& dir, const std::string& session, const EventsLayout& layout) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [from, count] : layout.ranges) {
    if (count == 0) continue;
    if (!ranges.empty() && from < ranges.back().second) {
      return absl::DataLossError(absl::StrCat(dir, ": the stored layout of session '", session,
                                              "' is not in sequence order"));
    }
    ranges.emplace_back(from, from + count);
  }
  return ranges;
}

// Emits the lines of an imported session's events.ndjson, as agent-strace
// reads it: the lines of the file (its layout's sequence ranges, in file
// order), not the events that carry this session_id (a line may carry
// another one, or none; superseded lines of a replaced file are not lines
// of it). Found through the index by session_id (`q`); a line that carries
// another one shows as a gap, from which on the log is read in sequence
// order.
absl::Status EmitLines(Log* log, const std::string& session, const EventsLayout& layout,
                       QueryEngine* engine, const Query& q, SessionEmitter* emitter,
                       const CorruptionReporter& reporter) {
  auto ranges = LineRanges(log->dir(), session, layout);
  if (!ranges.ok()) return ranges.status();
  LineWalk lines(*std::move(ranges));
  if (!lines.done()) {
    auto n = engine->Run(
        q,
        [&](uint64_t seq, absl::string_view event) {
          if (seq < lines.next()) return true;   // not a line of the file
          if (seq > lines.next()) return false;  // a gap: line `next` carries another id
          if (!emitter->Emit(event)) return false;
          lines.Advance();
          return !lines.done();
        },
        nullptr, reporter);
    if (!emitter->status().ok()) return emitter->status();
    if (!n.ok()) return n.status();
  }
  if (lines.done()) return absl::OkStatus();
  ReaderOptions ro;
  ro.from_sequence = lines.next();
  ro.reporter = reporter;
  ro.want_keys = false;
  auto reader = log->NewReader(ro);
  LogEvent ev;
  while (!lines.done() && reader->Next(&ev)) {
    if (ev.sequence < lines.next()) continue;
    while (!lines.done() && ev.sequence > lines.next()) lines.Advance();  // damaged lines: skipped
    if (lines.done() || ev.sequence != lines.next()) continue;
    if (!emitter->Emit(ev.event)) break;
    lines.Advance();
  }
  if (!emitter->status().ok()) return emitter->status();
  return reader->status();
}

}  // namespace

absl::Status ExportSession(Log* log, const std::string& session, const std::string& format,
                           const std::function<bool(absl::string_view)>& write,
                           const CorruptionReporter& reporter, const AttachmentStore* store) {
  if (format != "ndjson" && format != "json" && format != "csv") {
    return absl::InvalidArgumentError(absl::StrCat("unknown export format '", format, "'"));
  }
  SessionEmitter emitter(format == "json"  ? SessionEmitter::Format::kJson
                         : format == "csv" ? SessionEmitter::Format::kCsv
                                           : SessionEmitter::Format::kNdjson,
                         write);
  std::unique_ptr<AttachmentStore> loaded;
  if (store == nullptr) {
    auto s = AttachmentStore::Load(log->file_system(), log->dir(), reporter);
    if (!s.ok()) return s.status();
    loaded = std::move(*s);
    store = loaded.get();
  }
  const EventsLayout* layout = store->Layout(session);
  QueryEngine engine(log);
  Query q;
  q.sessions = {session};
  if (layout != nullptr) {
    if (auto s = EmitLines(log, session, *layout, &engine, q, &emitter, reporter); !s.ok()) {
      return s;
    }
  } else {
    // Not an imported directory: the events whose session_id it is.
    auto n = engine.Run(
        q, [&](uint64_t, absl::string_view event) { return emitter.Emit(event); }, nullptr,
        reporter);
    if (!emitter.status().ok()) return emitter.status();
    if (!n.ok()) return n.status();
  }
  emitter.Finish();
  return absl::OkStatus();
}

absl::StatusOr<std::string> SessionMetaJson(Log* log, const std::string& session,
                                            const CorruptionReporter& reporter,
                                            const AttachmentStore* store) {
  std::unique_ptr<AttachmentStore> loaded;
  if (store == nullptr) {
    auto s = AttachmentStore::Load(log->file_system(), log->dir(), reporter);
    if (!s.ok()) return s.status();
    loaded = std::move(*s);
    store = loaded.get();
  }
  if (const auto* files = store->SessionFiles(session); files != nullptr) {
    if (auto it = files->find("meta.json"); it != files->end()) {
      std::string meta;
      absl::Status read = store->ReadTo(it->second, [&](absl::string_view piece) {
        meta.append(piece.data(), piece.size());
        return absl::OkStatus();
      });
      if (!read.ok()) return read;
      return meta;
    }
  }
  // None stored: derived from the events, as the export derives it.
  QueryEngine engine(log);
  Query q;
  q.sessions = {session};
  SessionStats stats;
  EventKeyExtractor extractor;
  EventKeys keys;
  auto n = engine.Run(
      q,
      [&](uint64_t, absl::string_view event) {
        if (extractor.Extract(event, &keys, /*validate=*/false).ok()) stats.Add(keys, event);
        return true;
      },
      nullptr, reporter);
  if (!n.ok()) return n.status();
  if (*n == 0 && !store->HasSession(session)) {
    return absl::NotFoundError(absl::StrCat("no session '", session, "' in ", log->dir()));
  }
  return AgentStraceMetaJson(session, stats);
}

}  // namespace tracelog
