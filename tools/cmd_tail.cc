// tracelog tail [-f]: the last events of the log, and with -f every new one
// as it is appended (by any writer, `tracelog serve` included), across
// segment rolls, sealing and retention, with a cursor file to resume from.
//
// Each round opens the log read-only, reads from the sequence after the
// last one printed, and prints what matches; the cursor (that sequence) is
// saved after the output was flushed, so a follower restarted from it goes
// on exactly after the last event it printed (one killed between the two
// prints that event again: at least once, never a gap).

#include <unistd.h>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/log.h"
#include "engine/query/event_match.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/query_flags.h"

namespace tracelog::cli {
namespace {

struct TailFlags {
  std::string dir;
  bool follow = false;
  uint64_t lines = 10;
  std::string cursor;       // read and kept up to date
  std::string from_cursor;  // read only
  std::vector<std::string> sessions, types, tools;
  bool error = false;
  ContentFilters content;
  uint64_t interval_ms = 200;
};

volatile std::sig_atomic_t g_stop = 0;

bool Matches(const TailFlags& f, const EventKeys& k) {
  auto in = [](const std::vector<std::string>& list, absl::string_view v) {
    if (list.empty()) return true;
    for (const std::string& x : list) {
      if (x == v) return true;
    }
    return false;
  };
  return in(f.sessions, k.session_id) && in(f.types, k.event_type) && in(f.tools, k.tool_name) &&
         (!f.error || k.error);
}

// The sequence a cursor file names (the last event printed); none when
// there is no such file (yet).
absl::StatusOr<std::optional<uint64_t>> ReadCursor(const std::string& path) {
  auto text = ReadWholeFile(DefaultFileSystem(), path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::optional<uint64_t>();
    return text.status();
  }
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &seq)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a cursor (a sequence number)"));
  }
  return std::optional<uint64_t>(seq);
}

absl::Status SaveCursor(const std::string& path, uint64_t seq) {
  const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  return WriteFileAtomically(DefaultFileSystem(), dir.empty() ? "/" : dir, path,
                             absl::StrCat(seq, "\n"), /*sync_dir=*/false);
}

// One round: the events from `*next` on that the log holds now; *next moves
// past them. False when output cannot go on (a closed pipe ends quietly).
absl::StatusOr<bool> Round(const TailFlags& f, EventMatcher* matcher, uint64_t* next,
                           StdoutWriter* out) {
  LogOptions o;
  o.read_only = true;
  auto log = Log::Open(f.dir, o);
  if (!log.ok() && f.follow && absl::IsNotFound(log.status())) return true;  // not there yet
  if (!log.ok()) return log.status();
  const LogStats st = (*log)->Stats();
  if (st.events == 0 || st.last_sequence < *next) return true;
  if (*next < st.first_sequence) {
    if (*next > 1) {
      PrintError(absl::StrCat("warning: sequences ", *next, "..", st.first_sequence - 1,
                              " are gone (retention); going on from ", st.first_sequence));
    }
    *next = st.first_sequence;
  }
  ReaderOptions options{.from_sequence = *next};
  options.reporter = [](const Corruption& c) {
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  };
  auto reader = (*log)->NewReader(options);
  LogEvent ev;
  uint64_t last = 0;
  while (reader->Next(&ev)) {
    last = ev.sequence;
    if (!Matches(f, ev.keys) || (matcher != nullptr && !matcher->Matches(ev.event))) continue;
    out->Write(ev.event);
    out->Write("\n");
  }
  if (!out->Flush()) return false;
  if (last >= *next) {
    *next = last + 1;
    if (!f.cursor.empty()) {
      if (auto s = SaveCursor(f.cursor, last); !s.ok()) return s;
    }
  }
  // A segment that could not be read: stop, the cursor at the last event
  // printed, rather than go on past events never printed.
  if (!reader->status().ok()) return reader->status();
  return true;
}

int RunTail(TailFlags f) {
  std::vector<std::string> split;
  for (auto* list : {&f.sessions, &f.types, &f.tools}) {
    split.clear();
    for (const std::string& v : *list) {
      for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipEmpty())) split.emplace_back(p);
    }
    *list = split;
  }
  std::unique_ptr<EventMatcher> matcher;
  if (!f.content.empty() || !f.content.grep_field.empty()) {
    auto m = EventMatcher::Create(f.content);
    if (!m.ok()) {
      PrintError(m.status());
      return kExitError;
    }
    matcher = std::move(*m);
  }
  // Where to start: after the cursor, else the last --lines events.
  std::optional<uint64_t> after;
  const std::string& start = !f.cursor.empty() ? f.cursor : f.from_cursor;
  if (!start.empty()) {
    auto seq = ReadCursor(start);
    if (!seq.ok()) {
      PrintError(seq.status());
      return kExitError;
    }
    after = *seq;
  }
  uint64_t next = 0;
  if (after.has_value()) {
    next = *after + 1;
  } else {
    LogOptions o;
    o.read_only = true;
    auto log = Log::Open(f.dir, o);
    if (!log.ok() && !(f.follow && absl::IsNotFound(log.status()))) {
      PrintError(log.status());
      return kExitError;
    }
    const LogStats st = log.ok() ? (*log)->Stats() : LogStats{};
    next = st.last_sequence >= f.lines ? st.last_sequence - f.lines + 1 : 1;
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  StdoutWriter out;
  while (true) {
    auto going = Round(f, matcher.get(), &next, &out);
    if (!going.ok()) {
      PrintError(going.status());
      return kExitError;
    }
    if (!*going) return out.broken_pipe() ? kExitOk : kExitError;
    if (!f.follow || g_stop) return kExitOk;
    for (uint64_t waited = 0; waited < f.interval_ms && !g_stop; waited += 10) ::usleep(10000);
    if (g_stop) return kExitOk;
  }
}

}  // namespace

Command RegisterTail(CLI::App& app) {
  auto f = std::make_shared<TailFlags>();
  CLI::App* sub = app.add_subcommand(
      "tail",
      "Print the last events of the log (NDJSON, as stored); with -f, then every new one as it\n"
      "is appended, by any writer, across segment rolls, sealing and retention, until SIGINT or\n"
      "SIGTERM. --cursor FILE resumes after the last event a previous tail printed and keeps\n"
      "FILE up to date (saved after each printed batch: a tail killed in between prints that\n"
      "batch again; it never skips one).");
  AddLogOption(sub, &f->dir);
  sub->add_flag("-f,--follow", f->follow, "Keep printing new events");
  sub->add_option("-n,--lines", f->lines,
                  "Start with the last N events of the log (the filters then apply). Default: 10")
      ->type_name("N");
  sub->add_option("--cursor", f->cursor,
                  "Resume after the sequence number in FILE (if it exists) and write the last one\n"
                  "printed there")
      ->type_name("FILE");
  sub->add_option("--from-cursor", f->from_cursor, "Resume after the sequence in FILE (read only)")
      ->type_name("FILE");
  sub->add_option("--session", f->sessions, "Only these sessions (exact ids)")->type_name("ID");
  sub->add_option("--type", f->types, "Only these event types")->type_name("TYPE");
  sub->add_option("--tool", f->tools, "Only these tools (data.tool_name)")->type_name("NAME");
  sub->add_flag("--error", f->error, "Only events flagged as errors");
  AddContentFilterOptions(sub, &f->content);
  sub->add_option("--interval", f->interval_ms, "How often -f looks for new events, in ms. Default: 200")
      ->check(CLI::Range(10, 60000))
      ->type_name("MS");
  return {sub, [f] { return RunTail(*f); }};
}

}  // namespace tracelog::cli
