// tracelog append: NDJSON events from stdin into the log.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "engine/io/file_system.h"
#include "engine/log/ingest.h"
#include "engine/ndjson/ack.h"
#include "engine/server/client.h"
#include "engine/ndjson/line_reader.h"
#include "engine/ndjson/pyjson.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {


struct AppendFlags {
  std::string dir;
  std::string fsync;
  std::string on_error = "abort";
  bool ack = false;
  uint64_t segment_size = 0;
  double wait_seconds = 30;
  bool no_redact = false;
};

// Reports stdin's line `line_no`, which is not an event (`why`), and
// counts it; true when the append stops there (no --on-error=skip).
bool RefuseLine(const absl::Status& why, uint64_t line_no, bool skip, uint64_t* rejected) {
  std::fprintf(stderr, "tracelog: stdin:%llu: %s\n", static_cast<unsigned long long>(line_no),
               std::string(why.message()).c_str());
  ++*rejected;
  return !skip;
}

// The exit code once every event read was appended: what bad lines did.
int BadLinesExitCode(bool aborted, uint64_t rejected, uint64_t line_no) {
  if (aborted) {
    PrintError(absl::StrCat("stopped at line ", line_no,
                            "; events before it were appended (use --on-error=skip to skip bad lines)"));
    return kExitNegative;
  }
  if (rejected > 0) {
    PrintError(absl::StrCat("skipped ", rejected, " bad line(s)"));
    return kExitNegative;
  }
  return kExitOk;
}

// Appends stdin's events through the server on `fd` (a `tracelog serve` of
// the log): the same checks, output and exit codes as appending here. Lines
// are checked before they are sent (a bad one stops the append, or is sent
// as a blank line with --on-error=skip, so the server's line numbers stay
// stdin's plus one for the hello); the server's answers are read on a thread
// of their own, so that neither side waits for the other with a full buffer.
int AppendThroughServer(const AppendFlags& f, UniqueFd fd) {
  const bool skip = f.on_error == "skip";
  uint64_t sent = 0, rejected = 0, line_no = 0;
  bool aborted = false;
  // The answers, read while the lines are sent.
  uint64_t acked = 0;
  std::string server_error;  // the first error answer, as stdin:<line>: <reason>
  bool greeted = false;
  std::thread answers([&] {
    auto in = DescriptorFile(fd.get(), "the server's answers");
    std::string out;
    ForEachLineChunk(in.get(), [&](const std::vector<NdjsonLine>& lines) {
      out.clear();
      for (const NdjsonLine& l : lines) {
        if (!greeted) {
          greeted = absl::StartsWith(l.text, "#tracelog ");
          if (!greeted && server_error.empty()) server_error = std::string(l.text);
          continue;
        }
        if (absl::StartsWith(l.text, "error ")) {
          if (server_error.empty()) {
            absl::string_view rest = l.text.substr(6);
            uint64_t n = 0;
            const size_t space = rest.find(' ');
            if (space != absl::string_view::npos && absl::SimpleAtoi(rest.substr(0, space), &n) &&
                n > 1) {
              server_error = absl::StrCat("stdin:", n - 1, ": ", rest.substr(space + 1));
            } else {
              server_error = std::string(l.text);
            }
          }
          continue;
        }
        ++acked;
        if (f.ack) absl::StrAppend(&out, l.text, "\n");
      }
      if (!out.empty()) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    }).IgnoreError();
  });
  std::string buf = HelloLine(/*durable=*/f.fsync == "always", f.no_redact);
  absl::Status send_status;
  auto flush = [&]() {
    size_t at = 0;
    while (at < buf.size() && send_status.ok()) {
      const ssize_t n = ::send(fd.get(), buf.data() + at, buf.size() - at, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        send_status = absl::UnavailableError(
            absl::StrCat("sending to the server: ", std::strerror(errno)));
        break;
      }
      at += static_cast<size_t>(n);
    }
    buf.clear();
  };
  PreparedEvent check;
  absl::Status read = ForEachLineChunk(DescriptorFile(0, "stdin").get(), [&](const std::vector<NdjsonLine>& lines) {
    for (const NdjsonLine& line : lines) {
      line_no = line.number;
      if (!IsBlankLine(line.text)) {
        if (auto s = PrepareEvent(line.text, &check); !s.ok()) {
          if (RefuseLine(s, line_no, skip, &rejected)) {
            aborted = true;
            break;
          }
          buf.push_back('\n');  // keeps the server's line numbers stdin's
          continue;
        }
        ++sent;
      }
      buf.append(line.text.data(), line.text.size());
      buf.push_back('\n');
    }
    flush();
    return !aborted && send_status.ok();
  });
  flush();
  ::shutdown(fd.get(), SHUT_WR);
  answers.join();
  if (!read.ok()) {
    PrintError(read);
    return kExitError;
  }
  if (!server_error.empty()) {
    PrintError(absl::StrCat(server_error, " (through the server)"));
    return kExitError;
  }
  if (!send_status.ok() || acked != sent) {
    PrintError(absl::StrCat("the server closed the connection: ", acked, " of ", sent,
                            " events acknowledged", send_status.ok() ? "" : "; ",
                            send_status.message()));
    return kExitError;
  }
  return BadLinesExitCode(aborted, rejected, line_no);
}

int RunAppend(const AppendFlags& f) {
  // A server of the log takes the events (the log is locked meanwhile).
  if (auto fd = ConnectToServer(DefaultSocketPath(f.dir)); fd.ok()) {
    return AppendThroughServer(f, std::move(*fd));
  }
  LogOverrides o;
  o.fsync = f.fsync;
  o.segment_size = f.segment_size;
  // A short-lived process that writes what stdin brings: each batch is one
  // pwrite (no pre-fault thread, no page read in as a hole and zero-filled
  // before it is copied over; LogTuning::append_with_pwrite).
  const uint64_t wait_ms = static_cast<uint64_t>(f.wait_seconds * 1000);
  o.this_process = [wait_ms](LogOptions options) {
    options.tuning.append_with_pwrite = true;
    options.lock_wait_ms = wait_ms;  // another writer holds the log: wait for it
    return options;
  };
  auto opened = OpenLog(f.dir, /*read_only=*/false, o);
  if (!opened.ok()) {
    PrintError(opened.status());
    return kExitError;
  }
  Log& log = **opened;
  auto redactor = OpenRedactor(f.dir, f.no_redact);
  if (!redactor.ok()) {
    PrintError(redactor.status());
    return kExitError;
  }
  const bool skip = f.on_error == "skip";
  std::vector<PreparedEvent> batch;
  std::deque<std::string> redacted;  // texts the redactor changed (batch views them)
  uint64_t line_no = 0, rejected = 0;
  bool aborted = false;
  absl::Status failed;
  std::string acks;
  absl::Status read = ForEachLineChunk(DescriptorFile(0, "stdin").get(), [&](const std::vector<NdjsonLine>& lines) {
    size_t batch_size = 0;
    redacted.clear();
    std::string changed;
    for (const NdjsonLine& line : lines) {
      line_no = line.number;
      if (IsBlankLine(line.text)) continue;
      if (batch_size == batch.size()) batch.emplace_back();
      auto r = PrepareIngested(redactor->get(), line.text, &changed, &batch[batch_size]);
      if (r.ok() && *r) {
        redacted.push_back(std::move(changed));
        batch[batch_size].event = redacted.back();
      }
      if (!r.ok()) {
        if (RefuseLine(r.status(), line_no, skip, &rejected)) {
          aborted = true;
          break;
        }
        continue;
      }
      ++batch_size;
    }
    if (batch_size > 0) {
      AppendBatchResult r = log.AppendPrepared(absl::MakeConstSpan(batch.data(), batch_size));
      if (f.ack) {
        acks.clear();
        for (size_t i = 0; i < r.appended && r.status.ok(); ++i) {
          EventKeys keys;
          DecodeKeys(batch[i].keys, &keys);
          AppendAckLine(r.first_sequence + i, keys.event_id, &acks);
        }
        if (std::fwrite(acks.data(), 1, acks.size(), stdout) != acks.size() ||
            std::fflush(stdout) != 0) {
          failed = absl::InternalError(absl::StrCat("writing acknowledgements: ", std::strerror(errno)));
          return false;
        }
      }
      if (!r.status.ok()) {
        failed = absl::Status(r.status.code(),
                              absl::StrCat(r.status.message(), " (", r.appended, " of ", batch_size,
                                           " events of this batch were appended before the error)"));
        return false;
      }
    }
    return !aborted;
  });
  if (!read.ok() || !failed.ok()) {
    PrintError(!failed.ok() ? failed : read);
    return kExitError;
  }
  if (auto s = log.Close(); !s.ok()) {
    PrintError(s);
    return kExitError;
  }
  return BadLinesExitCode(aborted, rejected, line_no);
}

}  // namespace

Command RegisterAppend(CLI::App& app) {
  auto f = std::make_shared<AppendFlags>();
  CLI::App* sub = app.add_subcommand(
      "append",
      "Append NDJSON events read from stdin, one JSON object per line (blank lines are ignored).\n"
      "Each event is stored byte for byte, but for secrets, which are replaced by \"[REDACTED]\"\n"
      "(and the event marked \"redacted\":true) unless --no-redact. When `tracelog serve` runs\n"
      "on the log the events go through it, with the same flags and answers. Exit 0 when every line was appended, 1 when a bad\n"
      "line stopped the append or was skipped, 2 on an I/O or usage error.");
  AddLogOption(sub, &f->dir);
  sub->add_option("--fsync", f->fsync,
                  "Durability for this call: always | interval:<ms> | bytes:<n> | never.\n"
                  "Default: the log's policy (set when the log was created; interval:100)")
      ->type_name("POLICY");
  sub->add_flag("--ack", f->ack,
                "Print '<sequence> <event_id>' for each event once the policy's promise holds\n"
                "(durable with always; appended with interval/never). One line per event: an\n"
                "event_id of printable ASCII without space, '\"' or '\\' is printed as it is, any\n"
                "other (or none) as a JSON string (\"a b\", \"x\\n\", \"\")");
  sub->add_option("--on-error", f->on_error,
                  "On a line that is not a JSON object: abort (stop; what came before is kept)\n"
                  "or skip (report it and go on)")
      ->check(CLI::IsMember({"abort", "skip"}))
      ->type_name("abort|skip");
  sub->add_option("--segment-size", f->segment_size,
                  "Segment size in bytes for new segments (default 64 MiB)")
      ->type_name("BYTES");
  sub->add_option("--wait", f->wait_seconds,
                  "When another process is writing the log, wait up to this long for it to\n"
                  "finish (then exit 2). 0: fail at once. Default: 30")
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS");
  AddNoRedactOption(sub, &f->no_redact);
  return {sub, [f] { return RunAppend(*f); }};
}

}  // namespace tracelog::cli
