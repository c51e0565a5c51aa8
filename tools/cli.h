#ifndef TRACELOG_TOOLS_CLI_H_
#define TRACELOG_TOOLS_CLI_H_

// Shared pieces of the `tracelog` command line: one Register function per
// subcommand (each in its own cmd_*.cc), the --log option, exit codes.

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/sealed_format.h"
#include "engine/log/log.h"
#include "engine/redact/redactor.h"

namespace CLI {
class App;
}

namespace tracelog::cli {

// Exit codes, as ripgrep and grep use them.
inline constexpr int kExitOk = 0;        // success / something matched / clean
inline constexpr int kExitNegative = 1;  // nothing matched / damage found / bad input lines
inline constexpr int kExitError = 2;     // usage error, I/O error

// A subcommand's body; runs after parsing, returns the exit code.
using Runner = std::function<int()>;
struct Command {
  CLI::App* sub;
  Runner run;
};

// Adds `--log DIR` to `sub`, defaulting to $TRACELOG_DIR or ./.tracelog.
void AddLogOption(CLI::App* sub, std::string* dir);

// What a subcommand changes of the options it opens a log with. Every field
// at its default leaves LogOptions' own.
struct LogOverrides {
  // --fsync: the sync policy to use, and to record in CONFIG when the log is
  // new. "": the policy recorded in CONFIG (SyncPolicy::Default() for a new
  // log). Default: "".
  std::string fsync;
  // LogOptions::segment_size; 0: its default. Default: 0.
  uint64_t segment_size = 0;
  // LogOptions::seal; unset: its default. Default: unset.
  std::optional<SealOptions> seal;
  // Applied last to the options of this process only: nothing of what it
  // changes is recorded in CONFIG (`tracelog import` passes
  // BulkImportOptions, which appends under `never` and makes everything
  // durable when it commits). Default: none.
  std::function<LogOptions(LogOptions)> this_process;
};

// Opens the log for a subcommand. Writers (read_only false) create the log if
// needed, record `overrides.fsync` (or the default) as the log's policy in
// CONFIG when the log is new, and use `overrides.fsync` if given, else the
// log's policy; what recovery found beyond the routine is printed to stderr
// (PrintRecovery). Readers open read-only and see a consistent prefix even
// while a writer runs.
absl::StatusOr<std::unique_ptr<Log>> OpenLog(const std::string& dir, bool read_only,
                                             const LogOverrides& overrides = {});

// The redactor a writer of the log at `dir` applies before appending
// (engine/log/ingest.h): as the log's CONFIG says (redaction on, the
// built-in rules, when there is no CONFIG yet), or null with `no_redact`
// (--no-redact) or `redact=off`. An error names CONFIG's bad line or
// pattern.
absl::StatusOr<std::unique_ptr<Redactor>> OpenRedactor(const std::string& dir, bool no_redact);

// Adds `--no-redact` to `sub` (a writer).
void AddNoRedactOption(CLI::App* sub, bool* no_redact);

// Prints "tracelog: recovery: <line>" to stderr for each thing `report`
// found or did, when it is more than the routine cut of a torn tail: an
// operator must hear of damage, of skipped sequences and of rolled-back
// imports.
void PrintRecovery(const RecoveryReport& report);

// Prints "tracelog: <message>" to stderr.
void PrintError(const absl::Status& status);
void PrintError(const std::string& message);

// Buffered writes to stdout. A closed pipe (EPIPE) ends output quietly: ok()
// turns false and the command should stop with exit 0, as ripgrep does.
class StdoutWriter {
 public:
  ~StdoutWriter() { Flush(); }
  void Write(absl::string_view s) {
    buf_.append(s.data(), s.size());
    if (buf_.size() >= (1 << 20)) Flush();
  }
  // Each event followed by a newline, written from where it is (writev),
  // after whatever is buffered.
  void WriteLines(absl::Span<const BlockEvent> events);
  bool Flush();
  bool ok() const { return ok_; }
  bool broken_pipe() const { return broken_pipe_; }

 private:
  // Writes the k buffers at v whole (v is consumed), or sets ok_ false.
  void WriteAll(iovec* v, size_t k);
  std::string buf_;
  bool ok_ = true;
  bool broken_pipe_ = false;
};

// Formats epoch seconds as RFC 3339 UTC with microseconds.
std::string FormatTimestamp(double epoch_seconds);

Command RegisterAppend(CLI::App& app);
Command RegisterDump(CLI::App& app);
Command RegisterVerify(CLI::App& app);
Command RegisterInfo(CLI::App& app);
Command RegisterGen(CLI::App& app);
Command RegisterQuery(CLI::App& app);
Command RegisterSessions(CLI::App& app);
Command RegisterSeal(CLI::App& app);
Command RegisterReindex(CLI::App& app);
Command RegisterRetain(CLI::App& app);
Command RegisterImport(CLI::App& app);
Command RegisterExport(CLI::App& app);
Command RegisterServe(CLI::App& app);
Command RegisterHook(CLI::App& app);
Command RegisterSetup(CLI::App& app);
Command RegisterList(CLI::App& app);
Command RegisterStats(CLI::App& app);
Command RegisterInspect(CLI::App& app);
Command RegisterTree(CLI::App& app);
Command RegisterReplay(CLI::App& app);
Command RegisterTail(CLI::App& app);
Command RegisterDiff(CLI::App& app);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_CLI_H_
