#ifndef TRACELOG_TOOLS_CLI_H_
#define TRACELOG_TOOLS_CLI_H_

// Shared pieces of the `tracelog` command line: one Register function per
// subcommand (each in its own cmd_*.cc), the --log option, exit codes.

#include <sys/uio.h>

#include <functional>
#include <string>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/sealed_format.h"
#include "engine/log/log.h"

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

// Opens the log for a subcommand. Writers (read_only false) create the log if
// needed, record `fsync_flag` (or the default) as the log's policy in CONFIG
// when the log is new, and use `fsync_flag` if given, else the log's policy.
// Readers open read-only and see a consistent prefix even while a writer runs.
// `this_process` overrides the policy for this process only (never
// recorded): `tracelog import` appends under `never` and makes everything
// durable when it commits. What recovery found beyond the routine is printed
// to stderr (PrintRecovery). `seal_nice`: LogOptions::seal_nice;
// `prefault_bytes` (if not 0): LogOptions::prefault_bytes.
absl::StatusOr<std::unique_ptr<Log>> OpenLog(const std::string& dir, bool read_only,
                                             const std::string& fsync_flag = "",
                                             uint64_t segment_size = 0,
                                             const SealOptions* seal = nullptr,
                                             const SyncPolicy* this_process = nullptr,
                                             int seal_nice = 19, uint64_t prefault_bytes = 0,
                                             bool append_with_pwrite = false);

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

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_CLI_H_
