#include "tests/testutil/test_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/segment_format.h"
#include "engine/workload/workload.h"

namespace tracelog::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::string base = ::testing::TempDir();
  if (!base.empty() && base.back() == '/') base.pop_back();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? absl::StrCat(info->test_suite_name(), ".", info->name())
                                     : std::string("test");
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  path_ = absl::StrCat(base, "/tracelog-", getpid(), "-", counter++, "-", name);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string MakeEvent(uint64_t i, const std::string& session, size_t pad) {
  std::string e = absl::StrCat(
      R"({"event_type":"tool_call","timestamp":)", 1795440000 + i, ".5", R"(,"event_id":"e)", i,
      R"(","session_id":")", session, R"(","data":{"tool_name":"Bash","arguments":{"command":"echo )",
      i, std::string(pad, 'x'), R"("}}})");
  return e;
}

namespace {
const std::string kVectorDir = std::string(TRACELOG_SOURCE_DIR) + "/format-spec/vectors/";
}  // namespace

std::string ReadHex(const std::string& name) {
  std::ifstream in(kVectorDir + name);
  EXPECT_TRUE(in.good()) << kVectorDir + name;
  std::string hex, line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    for (char c : line) {
      if (absl::ascii_isxdigit(static_cast<unsigned char>(c))) hex.push_back(c);
    }
  }
  return absl::HexStringToBytes(hex);
}

void WriteHex(const std::string& name, const std::string& comment, const std::string& bytes) {
  std::ofstream out(kVectorDir + name);
  out << "# " << comment << "\n";
  const std::string hex = absl::BytesToHexString(bytes);
  for (size_t i = 0; i < hex.size(); i += 32) {
    for (size_t j = i; j < std::min(hex.size(), i + 32); j += 2) {
      out << hex.substr(j, 2) << (j + 2 < std::min(hex.size(), i + 32) ? " " : "");
    }
    out << "   # offset " << i / 2 << "\n";
  }
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  ASSERT_TRUE(out.good()) << path;
}

void ExpectOneCorruptionAround(const std::vector<Corruption>& seen, const std::string& file,
                               uint64_t at) {
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].file, file);
  EXPECT_LT(seen[0].begin, at);
  EXPECT_GT(seen[0].end, at);
}

std::vector<std::string> FilesIn(const std::string& dir, absl::string_view suffix) {
  std::vector<std::string> out;
  auto names = DefaultFileSystem()->ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (absl::EndsWith(n, suffix)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t PeakRss() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

std::string SegmentRecords(int n, uint64_t first_sequence) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    EventKeys k;
    k.session_id = "s";
    k.event_type = "tool_call";
    k.event_id = "e";
    std::string keys;
    EncodeKeys(k, &keys);
    const std::string ev = "{\"event_type\":\"tool_call\",\"n\":" + std::to_string(i) + "}";
    std::string rec(RecordSize(keys.size(), ev.size()), '\0');
    EncodeRecord(rec.data(), first_sequence + i, kFlagHasTimestamp, 1.5 + i, keys, ev,
                 Checksum64(ev));
    out += rec;
  }
  return out;
}

void FixRecordHeaderChecksum(std::string* data, size_t offset) {
  char* h = data->data() + offset;
  const uint32_t keys_len = DecodeFixed32(h + 16);
  EncodeFixed64(h, Checksum64(h + 8, kRecordHeaderSize - 8 + keys_len));
}

LogOptions SmallLogOptions(FileSystem* fs, uint64_t segment_size, SyncPolicy::Kind kind,
                           uint64_t sync_value) {
  LogOptions o;
  o.fs = fs;
  o.segment_size = segment_size;
  o.sync.kind = kind;
  o.sync.value = sync_value;
  o.tuning.prefault_bytes = 0;
  o.seal_on_roll = false;
  return o;
}

LogOptions SmallSealingOptions(FileSystem* fs) {
  LogOptions o = SmallLogOptions(fs, 64 << 10);
  o.seal.block_size = 8 << 10;
  o.seal.tool_call_block_size = 2 << 10;
  o.seal.dictionary_size = 16 << 10;  // small logs train a dictionary too
  o.seal.dictionary_min_bytes = 32 << 10;
  return o;
}

std::vector<std::string> FleetEvents(int sessions, uint64_t seed) {
  WorkloadOptions w;
  w.seed = seed;
  w.agents = 4;
  w.sessions = sessions;
  w.turns_per_session = 3;
  w.max_output_bytes = 8 << 10;
  return FleetLines(w);
}

std::vector<std::string> FleetLines(const WorkloadOptions& options) {
  FleetWorkload fleet(options);
  std::vector<std::string> out;
  std::string line;
  while (fleet.Next(&line)) {
    out.push_back(line);
    line.clear();
  }
  return out;
}

void AppendAll(Log* log, const std::vector<std::string>& events) {
  for (const std::string& e : events) ASSERT_OK(log->Append(e));
}

void WriteLog(const std::string& dir, const LogOptions& o, const std::vector<std::string>& events,
              bool seal) {
  auto log = Log::Open(dir, o);
  ASSERT_OK(log);
  AppendAll(log->get(), events);
  if (seal) ASSERT_OK((*log)->SealAll());
  ASSERT_OK((*log)->Close());
}

namespace {

// Reads `log` as `options` say, handing each event to `take`.
void ReadEach(Log* log, const ReadAllOptions& options,
              const std::function<void(const LogEvent&)>& take) {
  ReaderOptions ro;
  ro.from_sequence = options.from;
  if (options.damage != nullptr) {
    std::vector<Corruption>* damage = options.damage;
    ro.reporter = [damage](const Corruption& c) { damage->push_back(c); };
  }
  auto reader = log->NewReader(ro);
  LogEvent ev;
  uint64_t last = 0;
  bool first = true;
  while (reader->Next(&ev)) {
    switch (options.sequences) {
      case Sequences::kIncreasing:
        if (!first) {
          EXPECT_GT(ev.sequence, last) << "sequences must increase";
        }
        break;
      case Sequences::kConsecutive:
        if (!first) {
          EXPECT_EQ(ev.sequence, last + 1) << "sequence order";
        }
        break;
      case Sequences::kConsecutiveFromFrom:
        EXPECT_EQ(ev.sequence, first ? options.from : last + 1) << "sequence order";
        break;
    }
    first = false;
    last = ev.sequence;
    take(ev);
  }
  if (options.corruptions != nullptr) *options.corruptions = reader->corruptions();
}

}  // namespace

std::vector<std::string> ReadAll(Log* log, const ReadAllOptions& options) {
  std::vector<std::string> out;
  ReadEach(log, options, [&out](const LogEvent& ev) { out.emplace_back(ev.event); });
  return out;
}

std::map<uint64_t, std::string> ReadAllBySequence(Log* log, const ReadAllOptions& options) {
  std::map<uint64_t, std::string> out;
  ReadEach(log, options,
           [&out](const LogEvent& ev) { out.emplace(ev.sequence, std::string(ev.event)); });
  return out;
}

LogOptions FaultFsLogTest::Options(SyncPolicy::Kind kind, uint64_t segment_size) {
  return SmallLogOptions(&fs_, segment_size, kind, kind == SyncPolicy::Kind::kInterval ? 10 : 0);
}

std::unique_ptr<Log> FaultFsLogTest::OpenOrDie(SyncPolicy::Kind kind, uint64_t segment_size) {
  auto log = Log::Open(kDir, Options(kind, segment_size));
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

void FaultFsLogTest::KillProcess(std::unique_ptr<Log> log) {
  fs_.SetAllFail(true);
  log.reset();
  fs_.SetAllFail(false);
}

FaultFsLogTest::Read FaultFsLogTest::ReadAll(Log* log) {
  Read out;
  ReaderOptions o;
  o.reporter = [&](const Corruption& c) { out.damage.push_back(c); };
  auto r = log->NewReader(o);
  LogEvent ev;
  while (r->Next(&ev)) {
    out.sequences.push_back(ev.sequence);
    out.ids.emplace_back(ev.keys.event_id);
    out.events.emplace_back(ev.event);
  }
  return out;
}

int Spawn(const TempDir& dir, const std::string& tag, const std::string& program,
          std::vector<std::string> args, const std::string& input) {
  const std::string in = dir.Sub(tag + ".in"), out = dir.Sub(tag + ".out"),
                    err = dir.Sub(tag + ".err");
  WriteFileOrDie(in, input);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  args.insert(args.begin(), program);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int SpawnCli(const TempDir& dir, const std::string& tag, std::vector<std::string> args,
             const std::string& input) {
  return Spawn(dir, tag, TRACELOG_CLI, std::move(args), input);
}

int WaitExitCode(int pid) {
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace tracelog::testing
