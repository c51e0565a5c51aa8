#ifndef TRACELOG_TESTS_TESTUTIL_TEST_UTIL_H_
#define TRACELOG_TESTS_TESTUTIL_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/io/fault_file_system.h"
#include "engine/io/file_system.h"
#include "engine/log/log.h"
#include "engine/segment/segment_scanner.h"
#include "engine/workload/workload.h"
#include "gtest/gtest.h"

namespace tracelog::testing {

inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

#define EXPECT_OK(expr) EXPECT_TRUE(::tracelog::testing::ToStatus(expr).ok()) \
    << ::tracelog::testing::ToStatus(expr)
#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const auto& _st = (expr);                                        \
    ASSERT_TRUE(::tracelog::testing::ToStatus(_st).ok())             \
        << ::tracelog::testing::ToStatus(_st);                       \
  } while (0)

// A fresh, empty directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A small agent event line in agent-strace's form.
std::string MakeEvent(uint64_t i, const std::string& session = "s1", size_t pad = 0);

// A test vector of format-spec/vectors/: hex bytes, whitespace-separated,
// '#' starts a comment. WriteHex writes one (16 bytes a line, offsets in
// comments) after a one-line `comment`.
std::string ReadHex(const std::string& name);
void WriteHex(const std::string& name, const std::string& comment, const std::string& bytes);

// Reads a whole file; empty string if missing.
std::string ReadFileOrEmpty(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& data);

// Runs `program` (looked up in PATH) with `args`: stdin from `input`,
// stdout and stderr to dir/<tag>.out and dir/<tag>.err. Returns the pid.
int Spawn(const TempDir& dir, const std::string& tag, const std::string& program,
          std::vector<std::string> args, const std::string& input = "");
// Starts `tracelog args...` (the CLI built with the tests), its stdin read
// from `input` and its stdout and stderr written to dir/<tag>.out and
// dir/<tag>.err. The child's pid, or -1.
int SpawnCli(const TempDir& dir, const std::string& tag, std::vector<std::string> args,
             const std::string& input = "");
// Waits for `pid`: its exit code, or 128 + the signal that ended it.
int WaitExitCode(int pid);
// Exactly one damaged range was reported (`seen`), in `file`, around byte `at`.
void ExpectOneCorruptionAround(const std::vector<Corruption>& seen, const std::string& file,
                               uint64_t at);

// Names of the files in `dir` (on the real file system) that end in
// `suffix`, sorted; none if `dir` cannot be listed.
std::vector<std::string> FilesIn(const std::string& dir, absl::string_view suffix);

// The peak resident set of this process, in bytes.
uint64_t PeakRss();

// ---- Segment bytes -----------------------------------------------------------

// `n` event records as the writer lays them out in a segment (no segment
// header), numbered from `first_sequence`. The i-th (from 0) holds the event
// {"event_type":"tool_call","n":i}, the keys session "s", type "tool_call",
// id "e", and the timestamp 1.5 + i.
std::string SegmentRecords(int n, uint64_t first_sequence = 1);
// Recomputes the header checksum of the record at `offset` of `data`, so
// that a field edited on purpose is what the decoder sees.
void FixRecordHeaderChecksum(std::string* data, size_t offset);

// ---- Small logs ----------------------------------------------------------------

// The options of a small log: segments of `segment_size` bytes, the sync
// policy `kind` (`sync_value`: its milliseconds or bytes), no prefaulting,
// and no sealing as segments roll (a test seals with SealAll, or sets
// seal_on_roll). `fs`: nullptr for the real file system.
LogOptions SmallLogOptions(FileSystem* fs = nullptr, uint64_t segment_size = 16 << 10,
                           SyncPolicy::Kind kind = SyncPolicy::Kind::kNever,
                           uint64_t sync_value = 0);
// SmallLogOptions with 64 KiB segments that seal into small blocks (8 KiB,
// tool calls 2 KiB), with a 16 KiB dictionary trained from 32 KiB of events
// on: a small log seals as a large one does.
LogOptions SmallSealingOptions(FileSystem* fs = nullptr);

// The events of a small generated fleet (engine/workload): `sessions`
// interleaved sessions of 4 agents, 3 turns each, every event type.
std::vector<std::string> FleetEvents(int sessions, uint64_t seed = 3);
// Every line the fleet generator gives for `options`, in order.
std::vector<std::string> FleetLines(const WorkloadOptions& options);
// Appends `events` in order (a fatal failure on the first that fails).
void AppendAll(Log* log, const std::vector<std::string>& events);
// Opens the log in `dir`, appends `events`, seals everything if asked, closes.
void WriteLog(const std::string& dir, const LogOptions& o, const std::vector<std::string>& events,
              bool seal);

// ---- Reading a whole log -------------------------------------------------------

// What ReadAll and ReadAllBySequence check of the sequences a reader
// returns (a test failure, not an error, when they do not hold).
enum class Sequences {
  kIncreasing,           // each above the one before (what any reader promises)
  kConsecutive,          // each the one before + 1
  kConsecutiveFromFrom,  // kConsecutive, and the first is ReadAllOptions::from
};

struct ReadAllOptions {
  uint64_t from = 1;                          // ReaderOptions::from_sequence
  uint64_t* corruptions = nullptr;            // if set: the reader's count of damage
  std::vector<Corruption>* damage = nullptr;  // if set: each damaged range reported
                                              // (through ReaderOptions::reporter)
  Sequences sequences = Sequences::kIncreasing;
};

// Every event a fresh reader of `log` returns, in order.
std::vector<std::string> ReadAll(Log* log, const ReadAllOptions& options = {});
// The same, by sequence.
std::map<uint64_t, std::string> ReadAllBySequence(Log* log, const ReadAllOptions& options = {});

// ---- A log on a file system that fails on demand ------------------------------

// A fixture: the log directory kDir on an in-memory file system that loses
// unsynced data, tears tails and fails writes and syncs on demand
// (engine/io/fault_file_system.h), with small logs on it, opened and killed.
// tests/log/recovery_test.cc and retention_test.cc use it as RecoveryTest.
class FaultFsLogTest : public ::testing::Test {
 public:
  static constexpr char kDir[] = "/log";

 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDir(kDir)); }

  // SmallLogOptions on fs_; `interval` syncs every 10 ms.
  LogOptions Options(SyncPolicy::Kind kind, uint64_t segment_size = 64 << 10);
  std::unique_ptr<Log> OpenOrDie(SyncPolicy::Kind kind, uint64_t segment_size = 64 << 10);

  // The process dies: the disk stops taking writes, the Log is destroyed
  // without a clean close. The page cache (the in-memory files) survives.
  void KillProcess(std::unique_ptr<Log> log);

  // What a fresh reader returns, and the damage it reports.
  struct Read {
    std::vector<uint64_t> sequences;
    std::vector<std::string> ids;  // event_id of each event (short to print)
    std::vector<std::string> events;
    std::vector<Corruption> damage;
  };
  static Read ReadAll(Log* log);

  FaultInjectionFileSystem fs_;
};

}  // namespace tracelog::testing

#endif  // TRACELOG_TESTS_TESTUTIL_TEST_UTIL_H_
