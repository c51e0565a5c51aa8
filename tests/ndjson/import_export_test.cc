// Import and export of agent-strace's NDJSON directory format: byte-for-byte
// round trips on a corpus of edge cases and on a generated fleet, re-import
// rules, bad input (all or nothing), untrusted session ids, crashes during
// an import, ImportTransaction, and the single-session export shapes.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/workload/workload.h"
#include "engine/format/attachment_format.h"
#include "engine/log/log.h"
#include "engine/ndjson/exporter.h"
#include "engine/ndjson/import_transaction.h"
#include "engine/ndjson/importer.h"
#include "engine/ndjson/pyjson.h"
#include "gtest/gtest.h"
#include "engine/io/fault_file_system.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

namespace fs = std::filesystem;
using ::tracelog::testing::ExpectOneCorruptionAround;
using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WriteFileOrDie;

// Every regular file under `root`, by relative path, with its bytes.
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      out[fs::relative(e.path(), root).string()] = ReadFileOrEmpty(e.path().string());
    }
  }
  return out;
}

void Put(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  WriteFileOrDie(path, bytes);
}

std::string Event(const std::string& session, int i, const std::string& extra = "") {
  return absl::StrCat(R"({"event_type":"tool_call","timestamp":1795440000.)", i,
                      R"(,"event_id":"e)", i, R"(","session_id":")", session,
                      R"(","data":{"tool_name":"Bash")", extra, "}}");
}

std::string Meta(const std::string& session) {
  std::string quoted;
  AppendPyJsonString(&quoted, session);
  return absl::StrCat("{\n  \"session_id\": ", quoted,
                      ",\n  \"started_at\": 1795440000.5,\n  \"attribution\": {}\n}");
}

// The edge cases of ../shared/agent-strace-format.md that decide
// byte-exactness, as a directory agent-strace (or a hand) could leave.
void WriteEdgeCorpus(const std::string& root) {
  auto session = [&](const std::string& name, const std::string& events) {
    Put(absl::StrCat(root, "/", name, "/meta.json"), Meta(name));
    Put(absl::StrCat(root, "/", name, "/events.ndjson"), events);
  };
  session("plain", Event("plain", 1) + "\n" + Event("plain", 2) + "\n");
  session("no final newline", Event("n", 1) + "\n" + Event("n", 2));
  session("empty.events", "");
  session("-leading-dash", Event("d", 1) + "\r\n" + Event("d", 2) + "\r\n");  // CRLF
  session("\xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9-\xe3\x82\xbb\xf0\x9f\x9a\x80-",
          Event("u", 1, R"(,"s":"\ud83d\ude00 \u00e9 \ud83d \u2028")") + "\n");
  session("Case", Event("Case", 1) + "\n");
  session("case", Event("case", 1) + "\n");
  session("has  two spaces!", Event("h", 1) + "\n");
  session("quote\"and'apos$%", Event("q", 1,
                                     R"(,"n":[1e-05,1e+16,-0.0,18446744073709551617,NaN,Infinity,-Infinity,1.0,0.30000000000000004])") +
                                   "\n\n  \n" + Event("q", 2) + "\n");
  session("back\\slash#+=@~,", Event("b", 1) + "\n");
  // A line over 16 MiB, and a sidecar.
  session("big", Event("big", 1, absl::StrCat(R"(,"out":")", std::string(17 << 20, 'x'), "\"")) + "\n");
  Put(root + "/big/annotations.jsonl", R"({"annotation_id":"a1","session_id":"big"})" "\n");
  // Files at the root.
  Put(root + "/.active-session", "plain");
  Put(root + "/.pending-calls.json", "{}");
  Put(root + "/datasets/default.jsonl", R"({"entry_id":"1"})" "\n");
  // Larger than a read piece and than the pack writer's buffer (4 MiB):
  // streamed in, its record header written back once it is complete.
  std::string large;
  for (int i = 0; large.size() < (5 << 20); ++i) {
    absl::StrAppend(&large, R"({"entry_id":")", i, R"(","input":"ls -la"})", "\n");
  }
  Put(root + "/datasets/large.jsonl", large);
  Put(root + "/alerts.log", "");
}

// How the logs these tests open append: through the mapping, or with pwrite
// as `tracelog import` does (ImportWriteModeTest runs in both).
bool g_append_with_pwrite = false;

LogOptions Opts() {
  LogOptions o;
  o.segment_size = 1 << 20;
  o.sync.kind = SyncPolicy::Kind::kNever;
  o.tuning.prefault_bytes = 0;
  o.tuning.append_with_pwrite = g_append_with_pwrite;
  return o;
}

// The tests that import through recycled segments and crashes, in both
// ways of appending.
class ImportWriteModeTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { g_append_with_pwrite = GetParam(); }
  void TearDown() override { g_append_with_pwrite = false; }
};

// Begins an import on `log` and imports `src` into it, sealing as it goes
// (as `tracelog import` does: segments are sealed and recycled); the caller
// commits or abandons it.
absl::StatusOr<ImportReport> ImportInto(Log* log, const std::string& src,
                                        ImportOptions options = {}) {
  auto first = log->BeginImport();
  if (!first.ok()) return first.status();
  options.help_seal = true;
  return ImportDirectory(log, *first, src, options);
}

// Imports `src` as one import; commits on success, else abandons it (the
// next open rolls it back).
absl::StatusOr<ImportReport> Import(const std::string& log_dir, const std::string& src,
                                    const ImportOptions& options = {}) {
  auto log = Log::Open(log_dir, Opts());
  if (!log.ok()) return log.status();
  auto report = ImportInto(log->get(), src, options);
  if (report.ok()) {
    if (auto s = (*log)->CommitImport(); !s.ok()) return s;
  }
  if (auto s = (*log)->Close(); !s.ok()) return s;
  return report;
}

absl::StatusOr<ExportReport> Export(const std::string& log_dir, const std::string& out,
                                    const ExportOptions& options = {}) {
  LogOptions o = Opts();
  o.read_only = true;
  auto log = Log::Open(log_dir, o);
  if (!log.ok()) return log.status();
  return ExportDirectory(log->get(), out, options);
}

std::vector<std::string> AllEvents(const std::string& log_dir) {
  LogOptions o = Opts();
  o.read_only = true;
  std::vector<std::string> out;
  auto log = Log::Open(log_dir, o);
  if (!log.ok()) return out;
  auto r = (*log)->NewReader(ReaderOptions());
  LogEvent ev;
  while (r->Next(&ev)) out.emplace_back(ev.event);
  return out;
}

uint64_t EventCount(const std::string& log_dir) {
  LogOptions o = Opts();
  o.read_only = true;
  auto log = Log::Open(log_dir, o);
  if (!log.ok()) return 0;
  return (*log)->Stats().events;
}

// Files are read in pieces (ImportOptions::read_chunk): the default, and
// pieces small enough that lines, the 17 MiB line, the grown part of a
// file and attachments all cross piece boundaries.
class PiecesTest : public ::testing::TestWithParam<size_t> {
 protected:
  ImportOptions Pieces() const {
    ImportOptions o;
    o.read_chunk = GetParam();
    return o;
  }
};

INSTANTIATE_TEST_SUITE_P(ReadChunk, PiecesTest, ::testing::Values(size_t{4} << 20, size_t{1021}),
                         [](const ::testing::TestParamInfo<size_t>& i) {
                           return absl::StrCat(i.param, "Bytes");
                         });

TEST_P(PiecesTest, EdgeCasesComeBackByteForByte) {
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  auto imported = Import(dir.Sub("log"), dir.Sub("src"), Pieces());
  ASSERT_OK(imported);
  EXPECT_EQ(imported->sessions, 11u);
  EXPECT_EQ(imported->sessions_new, 11u);
  EXPECT_EQ(imported->events, 14u);
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  const auto want = Tree(dir.Sub("src"));
  const auto got = Tree(dir.Sub("out"));
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [path, bytes] : want) {
    auto it = got.find(path);
    ASSERT_NE(it, got.end()) << path;
    EXPECT_TRUE(it->second == bytes) << path << ": " << it->second.size() << " vs " << bytes.size();
  }
  // Directories 0700, files 0600.
  struct stat st;
  ASSERT_EQ(::stat(dir.Sub("out/plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(dir.Sub("out/plain/events.ndjson").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A generated fleet of `sessions` sessions of `agents` agents.
WorkloadOptions Fleet(uint64_t seed, int agents, int sessions, int turns) {
  WorkloadOptions w;
  w.seed = seed;
  w.agents = agents;
  w.sessions = sessions;
  w.turns_per_session = turns;
  w.max_output_bytes = 16 << 10;
  return w;
}

TEST_P(ImportWriteModeTest, AGeneratedFleetOfAThousandSessionsComesBackByteForByte) {
  TempDir dir;
  ASSERT_OK(WriteAgentStraceDir(Fleet(11, 8, 1000, 2), dir.Sub("src"), nullptr));
  auto imported = Import(dir.Sub("log"), dir.Sub("src"));
  ASSERT_OK(imported);
  EXPECT_EQ(imported->sessions, 1000u);
  {
    // Sealed, as `tracelog import` leaves it: the export reads sealed segments.
    // Every one seals, recycled ones too (their records end at a marker).
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    ASSERT_OK((*log)->SealAll());
    const LogStats stats = (*log)->Stats();
    EXPECT_GT(stats.segments, 4u);
    EXPECT_EQ(stats.sealed_segments + 1, stats.segments);
    ASSERT_OK((*log)->Close());
  }
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out")));
}

// Names of the files below `dir` on `fs`, recursively, relative to it.
std::vector<std::string> FilesBelow(FileSystem* fs, const std::string& dir) {
  std::vector<std::string> out;
  auto d = fs->OpenDirectory(dir, false);
  if (!d.ok()) return out;
  auto names = (*d)->List();
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    auto st = (*d)->Stat(n);
    if (st.ok() && st->kind == EntryInfo::Kind::kDirectory) {
      for (const std::string& sub : FilesBelow(fs, JoinPath(dir, n))) out.push_back(n + "/" + sub);
    } else {
      out.push_back(n);
    }
  }
  return out;
}

// A write that fails while the events are written (here the disk is full,
// on the fault-injecting file system) stops the export with an error naming
// the file: the thread that writes the files behind the reader does not
// swallow it, and the export does not go on.
TEST(ImportExportTest, AWriteThatFailsStopsTheExportWithTheFilesName) {
  TempDir dir;
  ASSERT_OK(WriteAgentStraceDir(Fleet(5, 2, 20, 4), dir.Sub("src"), nullptr));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  FaultInjectionFileSystem out_fs;
  out_fs.FailNextWrite(absl::ResourceExhaustedError("write: No space left on device (injected)"));
  ExportOptions options;
  options.fs = &out_fs;
  auto exported = Export(dir.Sub("log"), "/out", options);
  ASSERT_FALSE(exported.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(exported.status())) << exported.status();
  EXPECT_TRUE(absl::StrContains(exported.status().message(), "/out/")) << exported.status();
  EXPECT_TRUE(absl::StrContains(exported.status().message(), "events.ndjson"))
      << exported.status();
  // It stopped at the first failure: no session got its meta.json.
  const std::vector<std::string> files = FilesBelow(&out_fs, "/out");
  for (const std::string& f : files) EXPECT_FALSE(absl::EndsWith(f, "meta.json")) << f;
  // The same export on a disk that works gives the source tree back.
  FaultInjectionFileSystem ok_fs;
  options.fs = &ok_fs;
  ASSERT_OK(Export(dir.Sub("log"), "/out", options));
  std::vector<std::string> got = FilesBelow(&ok_fs, "/out"), want;
  for (const auto& e : fs::recursive_directory_iterator(dir.Sub("src"))) {
    if (e.is_regular_file()) want.push_back(fs::relative(e.path(), dir.Sub("src")).string());
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  ASSERT_EQ(got, want);
  for (const std::string& rel : want) {
    EXPECT_EQ(ok_fs.Contents("/out/" + rel), ReadFileOrEmpty(dir.Sub("src/") + rel)) << rel;
  }
}

// An import whose source tree cannot be read part way (an I/O error on a
// file of it) fails naming that file, and the log keeps nothing of it.
TEST(ImportExportTest, AReadThatFailsStopsTheImportWithTheFilesName) {
  FaultInjectionFileSystem src_fs;
  ASSERT_OK(src_fs.CreateDir("/src"));
  ASSERT_OK(src_fs.CreateDir("/src/s1"));
  src_fs.SetContents("/src/s1/meta.json", R"({"session_id": "s1"})");
  src_fs.SetContents("/src/s1/events.ndjson", MakeEvent(1, "s1") + "\n" + MakeEvent(2, "s1") + "\n");
  ASSERT_OK(src_fs.CreateDir("/src/s2"));
  src_fs.SetContents("/src/s2/meta.json", R"({"session_id": "s2"})");
  src_fs.SetContents("/src/s2/events.ndjson", MakeEvent(3, "s2") + "\n");
  TempDir dir;
  ImportOptions options;
  options.fs = &src_fs;
  // Listed first, then read: the second session's events go missing in between.
  options.after_walk = [&] { ASSERT_OK(src_fs.Remove("/src/s2/events.ndjson")); };
  auto report = Import(dir.Sub("log"), "/src", options);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(absl::StrContains(report.status().message(), "/src/s2/events.ndjson"))
      << report.status();
  EXPECT_TRUE(AllEvents(dir.Sub("log")).empty()) << "a failed import is rolled back";
  // With the tree whole, the same import stores all three events.
  src_fs.SetContents("/src/s2/events.ndjson", MakeEvent(3, "s2") + "\n");
  options.after_walk = nullptr;
  ASSERT_OK(Import(dir.Sub("log"), "/src", options));
  EXPECT_EQ(AllEvents(dir.Sub("log")).size(), 3u);
}

TEST(ImportExportTest, AStreamGetsAgentStracesOwnMetaDerivedFromItsEvents) {
  // The generator writes the same fleet as one interleaved stream and as
  // agent-strace's directory (its meta.json as the decorator writes it):
  // importing the stream and exporting gives that directory.
  TempDir dir;
  WorkloadOptions w;
  w.seed = 5;
  w.sessions = 40;
  w.max_output_bytes = 16 << 10;
  ASSERT_OK(WriteFleetNdjson(w, dir.Sub("fleet.ndjson"), nullptr));
  ASSERT_OK(WriteAgentStraceDir(w, dir.Sub("want"), nullptr));
  auto log = Log::Open(dir.Sub("log"), Opts());
  ASSERT_OK(log);
  ASSERT_OK((*log)->BeginImport());
  const int fd = ::open(dir.Sub("fleet.ndjson").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto report = ImportNdjsonStream(log->get(), DescriptorFile(fd, "fleet.ndjson").get(), ImportOptions());
  ::close(fd);
  ASSERT_OK(report);
  EXPECT_EQ(report->sessions, 40u);
  ASSERT_OK((*log)->CommitImport());
  ASSERT_OK((*log)->Close());
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  const auto want = Tree(dir.Sub("want"));
  const auto got = Tree(dir.Sub("out"));
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [path, bytes] : want) {
    ASSERT_TRUE(got.count(path)) << path;
    EXPECT_EQ(got.at(path), bytes) << path;
  }
}

TEST_P(PiecesTest, ReimportAddsNothingThenOnlyNewLinesAndChangedFiles) {
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src"), Pieces()));
  const uint64_t before = EventCount(dir.Sub("log"));
  auto again = Import(dir.Sub("log"), dir.Sub("src"), Pieces());
  ASSERT_OK(again);
  EXPECT_EQ(again->events, 0u);
  EXPECT_EQ(again->attachments, 0u);
  EXPECT_EQ(again->sessions_unchanged, 11u);
  EXPECT_EQ(EventCount(dir.Sub("log")), before);
  EXPECT_FALSE(fs::exists(dir.Sub("log/") + AttachFileName(before + 1))) << "an empty pack is not kept";
  // The session grows (agent-strace appends), its meta.json is rewritten.
  const std::string events = dir.Sub("src/plain/events.ndjson");
  WriteFileOrDie(events, ReadFileOrEmpty(events) + Event("plain", 3) + "\n\n");
  WriteFileOrDie(dir.Sub("src/plain/meta.json"), Meta("plain") + " ");
  // The large dataset changes in its last byte only.
  std::string large = ReadFileOrEmpty(dir.Sub("src/datasets/large.jsonl"));
  large.back() = ' ';
  WriteFileOrDie(dir.Sub("src/datasets/large.jsonl"), large);
  auto grown = Import(dir.Sub("log"), dir.Sub("src"), Pieces());
  ASSERT_OK(grown);
  EXPECT_EQ(grown->sessions_grown, 1u);
  EXPECT_EQ(grown->sessions_unchanged, 10u);
  EXPECT_EQ(grown->events, 1u);
  EXPECT_EQ(grown->attachments, 2u);
  EXPECT_EQ(EventCount(dir.Sub("log")), before + 1);
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out")));
  // A line added to the 17 MiB one's file: grown from there (the old size
  // falls inside a piece or on its edge, and the prefix hash must match).
  const std::string big = dir.Sub("src/big/events.ndjson");
  WriteFileOrDie(big, ReadFileOrEmpty(big) + Event("big", 2) + "\n");
  auto big_grown = Import(dir.Sub("log"), dir.Sub("src"), Pieces());
  ASSERT_OK(big_grown);
  EXPECT_EQ(big_grown->sessions_grown, 1u);
  EXPECT_EQ(big_grown->events, 1u);
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out2")));
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out2")));
}

// Flips a bit of the byte `delta` bytes into the first `needle` of the
// log's attachment pack (which must lie past `min_at`), exports the log to
// `out`, and checks that exactly the record around it is reported: *damage.
void ExportWithAFlippedByteInThePack(const TempDir& dir, absl::string_view needle, size_t delta,
                                     size_t min_at, const std::string& out, Corruption* damage,
                                     ExportReport* report) {
  const std::string pack = dir.Sub("log/") + AttachFileName(1);
  std::string bytes = ReadFileOrEmpty(pack);
  const size_t at = absl::string_view(bytes).find(needle);
  ASSERT_NE(at, std::string::npos);
  ASSERT_GT(at, min_at);
  bytes[at + delta] ^= 0x20;
  WriteFileOrDie(pack, bytes);
  LogOptions o = Opts();
  o.read_only = true;
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  std::vector<Corruption> found;
  auto exported = ExportDirectory(log->get(), out, ExportOptions(),
                                  [&](const Corruption& c) { found.push_back(c); });
  ASSERT_OK(exported);
  *report = *exported;
  ExpectOneCorruptionAround(found, pack, at);
  if (::testing::Test::HasFatalFailure()) return;
  *damage = found[0];
}

// A damaged attachment record (a flipped byte in the second 4 MiB piece of
// the large dataset) is reported with its pack and offset and not written;
// everything else is exported.
TEST(ImportExportTest, ADamagedAttachmentIsReportedAndNotWritten) {
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  auto imported = Import(dir.Sub("log"), dir.Sub("src"));
  ASSERT_OK(imported);
  Corruption damage;
  ExportReport exported;
  ExportWithAFlippedByteInThePack(dir, R"({"entry_id":"120000",)", 2, size_t{4} << 20,
                                  dir.Sub("out"), &damage, &exported);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_NE(damage.reason.find("checksum mismatch"), std::string::npos) << damage.reason;
  EXPECT_EQ(exported.corruptions, 1u);
  auto want = Tree(dir.Sub("src"));
  want.erase("datasets/large.jsonl");
  EXPECT_TRUE(Tree(dir.Sub("out")) == want);
}

// Packs are loaded through a read window (1 MiB): hundreds of small
// records across several windows, records straddling their edges, and one
// damaged record past the first window, reported alone.
TEST(ImportExportTest, ManySmallAttachmentsLoadAcrossReadWindows) {
  TempDir dir;
  const int kSessions = 600;
  for (int i = 0; i < kSessions; ++i) {
    const std::string name = absl::StrCat("s", i);
    // ~3 KB each: ~1.8 MiB of records in the pack.
    Put(dir.Sub("src/" + name + "/meta.json"),
        absl::StrCat(Meta(name), std::string(2800 + i % 97, ' ')));
    Put(dir.Sub("src/" + name + "/events.ndjson"), Event(name, i) + "\n");
  }
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out")));

  ASSERT_GT(ReadFileOrEmpty(dir.Sub("log/") + AttachFileName(1)).size(), size_t{3} << 19);
  Corruption damage;
  ExportReport exported;
  ExportWithAFlippedByteInThePack(dir, R"("session_id": "s599")", 3, size_t{1} << 20,
                                  dir.Sub("out2"), &damage, &exported);
  if (::testing::Test::HasFatalFailure()) return;
  auto want = Tree(dir.Sub("src"));
  want.erase("s599/meta.json");
  auto got = Tree(dir.Sub("out2"));
  // Its meta.json is derived from its events instead: what a stream import gets.
  ASSERT_EQ(got.count("s599/meta.json"), 1u);
  got.erase("s599/meta.json");
  EXPECT_TRUE(got == want);
}

TEST(ImportExportTest, ARewrittenSessionIsAConflictUnlessReplaced) {
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  const uint64_t before = EventCount(dir.Sub("log"));
  WriteFileOrDie(dir.Sub("src/plain/events.ndjson"), Event("plain", 7) + "\n");
  auto conflict = Import(dir.Sub("log"), dir.Sub("src"));
  ASSERT_TRUE(absl::IsFailedPrecondition(conflict.status())) << conflict.status();
  EXPECT_NE(conflict.status().message().find("plain/events.ndjson"), absl::string_view::npos);
  EXPECT_NE(conflict.status().message().find("--replace"), absl::string_view::npos);
  EXPECT_EQ(EventCount(dir.Sub("log")), before) << "a failed import adds nothing";
  ImportOptions replace;
  replace.replace = true;
  auto replaced = Import(dir.Sub("log"), dir.Sub("src"), replace);
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->sessions_replaced, 1u);
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  EXPECT_EQ(ReadFileOrEmpty(dir.Sub("out/plain/events.ndjson")), Event("plain", 7) + "\n");
}

struct BadCase {
  const char* name;
  std::string file;      // relative to the corpus
  std::string bytes;
  std::string where;     // expected in the error
};

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, NamesFileAndLineAndLeavesTheLogAsItWas) {
  const BadCase& c = GetParam();
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  const std::vector<std::string> events_before = AllEvents(dir.Sub("log"));
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("before")));
  // A new session, with one good line before the bad input.
  Put(dir.Sub("src/new/meta.json"), Meta("new"));
  Put(dir.Sub("src/new/events.ndjson"), Event("new", 1) + "\n");
  Put(dir.Sub("src/") + c.file, c.bytes);
  auto bad = Import(dir.Sub("log"), dir.Sub("src"));
  ASSERT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find(c.where), absl::string_view::npos) << bad.status();
  // Every reader sees the log as before: the same events and files, before
  // the next writer rolls the import back and after.
  EXPECT_EQ(AllEvents(dir.Sub("log")), events_before);
  {
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    EXPECT_GT((*log)->recovery().rolled_back_import, 0u);
    ASSERT_OK((*log)->Close());
  }
  EXPECT_EQ(AllEvents(dir.Sub("log")), events_before);
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("after")));
  EXPECT_TRUE(Tree(dir.Sub("before")) == Tree(dir.Sub("after")));
  // With --on-error=skip: the rest goes in, the bad part is counted, and the
  // export still gives back every byte.
  ImportOptions skip;
  skip.skip_bad_lines = true;
  auto skipped = Import(dir.Sub("log"), dir.Sub("src"), skip);
  ASSERT_OK(skipped);
  EXPECT_FALSE(skipped->problems.empty());
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadInputTest,
    ::testing::Values(
        BadCase{"NotAnObject", "new/events.ndjson", Event("new", 1) + "\n[1,2]\n",
                "new/events.ndjson:2: not a JSON object"},
        BadCase{"InvalidUtf8", "new/events.ndjson",
                Event("new", 1) + "\n" + R"({"event_type":"a","s":")" "\xff\xfe" "\"}\n",
                "new/events.ndjson:2: invalid UTF-8 at column 24"},
        BadCase{"TruncatedFile", "new/events.ndjson", Event("new", 1) + "\n{\"event_type\":\"tool_c",
                "new/events.ndjson:2: not JSON"},
        BadCase{"MetaNotJson", "new/meta.json", "{\n  \"session_id\": \"new\",\n  \"x\": }",
                "new/meta.json: not a JSON object: line 3"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

// An attachment's length is a u32: a larger file is refused before it is
// read (a sparse file here), naming it, and nothing is imported.
TEST(ImportExportTest, AFileTooLargeForAnAttachmentIsRefusedByName) {
  TempDir dir;
  Put(dir.Sub("src/s-1/meta.json"), Meta("s-1"));
  Put(dir.Sub("src/s-1/events.ndjson"), Event("s-1", 1) + "\n");
  Put(dir.Sub("src/s-1/huge.bin"), "");
  std::filesystem::resize_file(dir.Sub("src/s-1/huge.bin"), (4ull << 30) + 1);
  auto bad = Import(dir.Sub("log"), dir.Sub("src"));
  ASSERT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_NE(bad.status().message().find("s-1/huge.bin"), absl::string_view::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("4 GiB"), absl::string_view::npos) << bad.status();
  EXPECT_TRUE(AllEvents(dir.Sub("log")).empty());
}

// A directory of the tree replaced by a symbolic link between the walk and
// the reads (a session directory, a directory inside one, a root
// directory; and a file, which O_NOFOLLOW already refused): the import is
// refused, and nothing from the link's target (files of the operator's,
// outside the tree) gets into the log.
TEST(ImportExportTest, ADirectorySwappedForALinkAfterTheWalkIsNotFollowed) {
  for (const std::string swapped : {"s-1", "s-1/notes", "datasets", "s-1/events.ndjson"}) {
    SCOPED_TRACE(swapped);
    TempDir dir;
    Put(dir.Sub("src/s-1/meta.json"), Meta("s-1"));
    Put(dir.Sub("src/s-1/events.ndjson"), Event("s-1", 1) + "\n");
    Put(dir.Sub("src/s-1/notes/a.txt"), "tree\n");
    Put(dir.Sub("src/datasets/default.jsonl"), "{}\n");
    // What the links point at: the same names, other bytes.
    const std::string secret = dir.Sub("secret");
    Put(secret + "/meta.json", Meta("s-1"));
    Put(secret + "/events.ndjson", Event("SECRET", 1) + "\n");
    Put(secret + "/notes/a.txt", "SECRET\n");
    Put(secret + "/a.txt", "SECRET\n");
    Put(secret + "/default.jsonl", "SECRET\n");
    ImportOptions options;
    options.after_walk = [&] {
      const std::string victim = dir.Sub("src/" + swapped);
      fs::rename(victim, victim + ".moved");
      if (swapped == "s-1/events.ndjson") {
        fs::create_symlink(secret + "/events.ndjson", victim);
      } else {
        fs::create_directory_symlink(swapped == "s-1/notes" ? secret + "/notes" : secret, victim);
      }
    };
    auto report = Import(dir.Sub("log"), dir.Sub("src"), options);
    EXPECT_FALSE(report.ok()) << "the link was followed";
    EXPECT_TRUE(absl::StrContains(report.status().message(), dir.Sub("src/" + swapped)))
        << report.status();
    for (const std::string& e : AllEvents(dir.Sub("log"))) {
      EXPECT_FALSE(absl::StrContains(e, "SECRET")) << e;
    }
    if (fs::exists(dir.Sub("log"))) {
      ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
      for (const auto& [path, bytes] : Tree(dir.Sub("out"))) {
        EXPECT_FALSE(absl::StrContains(bytes, "SECRET")) << path;
      }
    }
  }
}

// A file of the tree replaced by a FIFO after the walk is refused at once:
// not read (whatever a writer puts into it), and not waited on. The writer
// here makes the test end either way: it feeds an import that opens the FIFO
// as a file and is released once the import has returned.
TEST(ImportExportTest, AFileSwappedForAFifoAfterTheWalkIsRefusedWithoutWaiting) {
  TempDir dir;
  Put(dir.Sub("src/s-1/meta.json"), Meta("s-1"));
  Put(dir.Sub("src/s-1/events.ndjson"), Event("s-1", 1) + "\n");
  Put(dir.Sub("src/s-1/notes.txt"), "notes\n");
  const std::string fifo = dir.Sub("src/s-1/notes.txt");
  void (*old_handler)(int) = ::signal(SIGPIPE, SIG_IGN);
  std::thread writer;
  ImportOptions options;
  options.after_walk = [&] {
    ASSERT_EQ(::unlink(fifo.c_str()), 0);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    writer = std::thread([&] {
      const int w = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // waits for a reader
      if (w < 0) return;
      (void)!::write(w, "forged\n", 7);
      ::close(w);
    });
  };
  auto report = Import(dir.Sub("log"), dir.Sub("src"), options);
  // Release the writer if the import never opened the FIFO for long.
  const int r = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (writer.joinable()) writer.join();
  if (r >= 0) ::close(r);
  ::signal(SIGPIPE, old_handler);
  ASSERT_FALSE(report.ok()) << "the FIFO was read as a file";
  EXPECT_TRUE(absl::StrContains(report.status().message(), "notes.txt")) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(), "not a regular file"))
      << report.status();
  EXPECT_TRUE(AllEvents(dir.Sub("log")).empty());
}

TEST(ImportExportTest, UnsafeSessionIdsAreRefusedAndNothingIsWrittenOutside) {
  TempDir dir;
  const std::vector<std::string> ids = {"..", ".", "a/b", "", "/abs", "nul\\u0000byte", "fine"};
  std::string stream;
  for (const std::string& id : ids) {
    absl::StrAppend(&stream, R"({"event_type":"decision","timestamp":1.5,"session_id":")", id,
                    R"(","data":{}})", "\n");
  }
  WriteFileOrDie(dir.Sub("stream.ndjson"), stream);
  {
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    ASSERT_OK((*log)->BeginImport());
    const int fd = ::open(dir.Sub("stream.ndjson").c_str(), O_RDONLY);
    ASSERT_OK(ImportNdjsonStream(log->get(), DescriptorFile(fd, "stream").get(), ImportOptions()));
    ::close(fd);
    ASSERT_OK((*log)->CommitImport());
    ASSERT_OK((*log)->Close());
  }
  fs::create_directories(dir.Sub("box"));
  auto report = Export(dir.Sub("log"), dir.Sub("box/out"));
  ASSERT_OK(report);
  EXPECT_EQ(report->sessions, 1u);
  EXPECT_EQ(report->refused.size(), 6u);
  // Only box/out/fine was written.
  std::vector<std::string> written;
  for (const auto& e : fs::recursive_directory_iterator(dir.Sub("box"))) {
    written.push_back(fs::relative(e.path(), dir.Sub("box")).string());
  }
  std::sort(written.begin(), written.end());
  EXPECT_EQ(written, (std::vector<std::string>{"out", "out/fine", "out/fine/events.ndjson",
                                               "out/fine/meta.json"}));
  EXPECT_FALSE(fs::exists(dir.Sub("abs")));
  // An existing, non-empty output directory is not written into without force.
  auto again = Export(dir.Sub("log"), dir.Sub("box/out"));
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  ExportOptions force;
  force.force = true;
  EXPECT_OK(Export(dir.Sub("log"), dir.Sub("box/out"), force));
}

// --force into a directory where files were planted: a hard link to a file
// outside (events.ndjson, a root file), a file left world-writable
// (meta.json), a symbolic link (an attachment). Each is replaced by a new
// file of the export's (0600, one link); what they pointed at is untouched,
// and no temporary file is left behind.
TEST(ImportExportTest, ForceReplacesPlantedFilesAndNeverWritesThroughThem) {
  TempDir dir;
  Put(dir.Sub("src/s-1/meta.json"), Meta("s-1"));
  Put(dir.Sub("src/s-1/events.ndjson"), Event("s-1", 1) + "\n" + Event("s-1", 2) + "\n");
  Put(dir.Sub("src/s-1/notes.txt"), "notes\n");
  Put(dir.Sub("src/.active-session"), "s-1");
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  const std::string victim = dir.Sub("victim");
  Put(victim, "VICTIM\n");
  const std::string out = dir.Sub("out");
  fs::create_directories(out + "/s-1");
  ASSERT_EQ(::link(victim.c_str(), (out + "/s-1/events.ndjson").c_str()), 0);
  ASSERT_EQ(::link(victim.c_str(), (out + "/.active-session").c_str()), 0);
  Put(out + "/s-1/meta.json", "planted");
  ASSERT_EQ(::chmod((out + "/s-1/meta.json").c_str(), 0666), 0);
  fs::create_symlink(victim, out + "/s-1/notes.txt");
  ExportOptions force;
  force.force = true;
  ASSERT_OK(Export(dir.Sub("log"), out, force));
  EXPECT_EQ(ReadFileOrEmpty(victim), "VICTIM\n");
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(out));
  for (const char* name : {"s-1/events.ndjson", "s-1/meta.json", "s-1/notes.txt", ".active-session"}) {
    struct stat st;
    ASSERT_EQ(::lstat((out + "/" + name).c_str(), &st), 0) << name;
    EXPECT_TRUE(S_ISREG(st.st_mode)) << name;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << name;
    EXPECT_EQ(st.st_nlink, 1u) << name;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    names.push_back(fs::relative(e.path(), out).string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".active-session", "s-1", "s-1/events.ndjson",
                                             "s-1/meta.json", "s-1/notes.txt"}));
}

TEST(ImportExportTest, ReadersDoNotSeeAnImportInProgressAndACrashRollsItBack) {
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  const uint64_t before = EventCount(dir.Sub("log"));
  WorkloadOptions w;
  w.seed = 2;
  w.sessions = 60;
  w.max_output_bytes = 8 << 10;
  ASSERT_OK(WriteAgentStraceDir(w, dir.Sub("more"), nullptr));
  // A child imports, stops before its commit and is killed.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto log = Log::Open(dir.Sub("log"), Opts());
    if (!log.ok()) ::_exit(3);
    if (!ImportInto(log->get(), dir.Sub("more")).ok()) ::_exit(5);
    (void)::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  // Meanwhile, a reader sees the log as it was.
  EXPECT_EQ(EventCount(dir.Sub("log")), before);
  auto out = Export(dir.Sub("log"), dir.Sub("during"));
  ASSERT_OK(out);
  EXPECT_EQ(out->sessions, 11u);
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  // The next writer rolls the import back: nothing of it is left.
  auto log = Log::Open(dir.Sub("log"), Opts());
  ASSERT_OK(log);
  EXPECT_GT((*log)->recovery().rolled_back_import, before);
  EXPECT_EQ((*log)->Stats().events, before);
  ASSERT_OK((*log)->Close());
  for (const auto& e : fs::directory_iterator(dir.Sub("log"))) {
    const std::string name = e.path().filename().string();
    EXPECT_FALSE(name == kImportMarkerFileName || absl::EndsWith(name, ".tmp")) << name;
  }
  // And importing it again works.
  auto again = Import(dir.Sub("log"), dir.Sub("more"));
  ASSERT_OK(again);
  EXPECT_EQ(again->sessions_new, 60u);
}

// A log opened with `o` and the import of `src` into it, in a transaction
// left open (the caller commits, rolls back, or lets it go).
struct OpenImport {
  std::unique_ptr<Log> log;
  std::optional<ImportTransaction> tx;  // destroyed before the log
  ImportReport report;
};
absl::StatusOr<OpenImport> ImportUncommitted(const std::string& log_dir, const std::string& src,
                                             const LogOptions& o) {
  OpenImport out;
  auto log = Log::Open(log_dir, o);
  if (!log.ok()) return log.status();
  out.log = std::move(*log);
  auto tx = ImportTransaction::Begin(out.log.get());
  if (!tx.ok()) return tx.status();
  out.tx.emplace(std::move(*tx));
  auto report = ImportDirectory(out.log.get(), out.tx->first_sequence(), src, {});
  if (!report.ok()) return report.status();
  out.report = *report;
  return out;
}

// An ImportTransaction that is destroyed without Commit rolls its import
// back (a reopen for writing): the log is as it was, no IMPORT marker is
// left and the next writer has nothing to roll back. RollBack does the same
// and says what its reopen rolled back. One that commits makes every event
// visible, and is then neither committed nor rolled back again.
TEST(ImportExportTest, AnImportTransactionRollsBackUnlessCommitted) {
  TempDir dir;
  WriteEdgeCorpus(dir.Sub("src"));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  const std::vector<std::string> before = AllEvents(dir.Sub("log"));
  WorkloadOptions w;
  w.seed = 4;
  w.sessions = 20;
  w.max_output_bytes = 8 << 10;
  ASSERT_OK(WriteAgentStraceDir(w, dir.Sub("more"), nullptr));
  const std::string marker = JoinPath(dir.Sub("log"), kImportMarkerFileName);
  uint64_t imported = 0;
  {
    auto open = ImportUncommitted(dir.Sub("log"), dir.Sub("more"), BulkImportOptions(Opts()));
    ASSERT_OK(open);
    imported = open->report.events;
    EXPECT_GT(imported, 0u);
    EXPECT_TRUE(fs::exists(marker));
    EXPECT_EQ(AllEvents(dir.Sub("log")), before) << "readers do not see an import in progress";
  }
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_EQ(AllEvents(dir.Sub("log")), before);
  {
    auto open = ImportUncommitted(dir.Sub("log"), dir.Sub("more"), Opts());
    ASSERT_OK(open);
    EXPECT_EQ(open->log->recovery().rolled_back_import, 0u) << "rolled back already";
    auto& tx = open->tx;
    ASSERT_OK(tx->RollBack());
    EXPECT_FALSE(tx->committed());
    EXPECT_EQ(tx->rollback_recovery().rolled_back_import, tx->first_sequence());
    EXPECT_TRUE(absl::IsFailedPrecondition(tx->Commit()));
  }
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_EQ(AllEvents(dir.Sub("log")), before);
  {
    auto open = ImportUncommitted(dir.Sub("log"), dir.Sub("more"), BulkImportOptions(Opts()));
    ASSERT_OK(open);
    auto& tx = open->tx;
    EXPECT_EQ(open->report.events, imported);
    ASSERT_OK(tx->Commit());
    EXPECT_TRUE(tx->committed());
    ASSERT_OK(tx->seal_status());
    EXPECT_TRUE(absl::IsFailedPrecondition(tx->Commit()));
    EXPECT_TRUE(absl::IsFailedPrecondition(tx->RollBack()));
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(AllEvents(dir.Sub("log")).size(), before.size() + imported)
        << "readers see the committed import while the log is open";
    ASSERT_OK(open->log->Close());
  }
  const std::vector<std::string> after = AllEvents(dir.Sub("log"));
  ASSERT_EQ(after.size(), before.size() + imported);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
  auto again = Import(dir.Sub("log"), dir.Sub("more"));
  ASSERT_OK(again);
  EXPECT_EQ(again->sessions_unchanged, 20u);
  EXPECT_EQ(again->events, 0u);
}

// An import writes its later segments over the files of its sealed ones
// (whose bytes past the last record are an older segment's). A process that
// dies right after the commit, having appended more, loses nothing and
// leaves no damage: recovery of the recycled active segment finds a clean
// end, as in a new file.
TEST_P(ImportWriteModeTest, ACrashAfterTheCommitOfAnImportWithRecycledSegmentsLosesNothing) {
  TempDir dir;
  WorkloadOptions w;
  w.seed = 3;
  w.sessions = 300;
  w.max_output_bytes = 8 << 10;
  ASSERT_OK(WriteAgentStraceDir(w, dir.Sub("src"), nullptr));
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto log = Log::Open(dir.Sub("log"), Opts());
    if (!log.ok()) ::_exit(3);
    if (!ImportInto(log->get(), dir.Sub("src")).ok()) ::_exit(5);
    if (!(*log)->CommitImport().ok()) ::_exit(6);
    if ((*log)->Stats().recycled_segments < 2) ::_exit(7);
    for (int i = 0; i < 3; ++i) {
      if (!(*log)->Append(Event("after", i)).ok()) ::_exit(8);
    }
    if (!(*log)->Sync().ok()) ::_exit(9);
    ::_exit(0);  // no Close: the next open recovers
  }
  int status;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  {
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    EXPECT_EQ((*log)->recovery().truncation_reason, "");
    EXPECT_EQ((*log)->recovery().rolled_back_import, 0u);
    ASSERT_OK((*log)->Close());
  }
  const std::vector<std::string> events = AllEvents(dir.Sub("log"));
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), Event("after", 2));
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("out")));
  auto got = Tree(dir.Sub("out"));
  got.erase("after/events.ndjson");
  got.erase("after/meta.json");
  EXPECT_TRUE(Tree(dir.Sub("src")) == got);
}

// A reader that holds a raw segment of the import in progress keeps
// reading the bytes it was given after that segment is sealed: the import
// does not write a later segment over its file while a reader maps it
// (torture, fault mode, --seed 1, iteration 224 of a CI run: a reader
// returned an event whose bytes changed under it, then reported damage).
TEST_P(ImportWriteModeTest, AReaderOfASealedSegmentKeepsItsBytesWhileTheImportGoesOn) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), Opts());
  ASSERT_OK(log);
  ASSERT_OK((*log)->BeginImport());
  const std::string pad = absl::StrCat(R"(,"out":")", std::string(2000, 'p'), "\"");
  std::map<uint64_t, std::string> appended;
  auto append_until_segments = [&](size_t n) {
    int i = static_cast<int>(appended.size());
    while ((*log)->SnapshotSegments().size() < n) {
      std::string e = Event("s", ++i, pad);
      auto seq = (*log)->Append(e);
      ASSERT_OK(seq);
      appended[*seq] = std::move(e);
    }
  };
  append_until_segments(2);
  std::vector<std::string> damage;
  ReaderOptions ro;
  ro.reporter = [&damage](const Corruption& c) { damage.push_back(c.ToString()); };
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  ASSERT_TRUE(reader->Next(&ev));
  EXPECT_EQ(ev.event, appended.begin()->second);
  ASSERT_OK((*log)->SealAll());
  append_until_segments(5);  // new segments, which may reuse sealed files
  size_t read = 1;
  while (reader->Next(&ev)) {
    ASSERT_EQ(appended.count(ev.sequence), 1u) << ev.sequence;
    ASSERT_EQ(ev.event, appended[ev.sequence]) << "sequence " << ev.sequence;
    ++read;
  }
  EXPECT_OK(reader->status());
  EXPECT_TRUE(damage.empty()) << damage[0];
  EXPECT_GT(read, 400u);  // past the first segment, at least
  reader.reset();
  // With no reader holding them, sealed files are reused again.
  const uint64_t recycled = (*log)->Stats().recycled_segments;
  ASSERT_OK((*log)->SealAll());
  append_until_segments(8);
  EXPECT_GT((*log)->Stats().recycled_segments, recycled);
  ASSERT_OK((*log)->CommitImport());
  ASSERT_OK((*log)->Close());
}

// An import on a file system that dies at step n (its n-th write, sync,
// rename, ... fails, and every later one), after which the machine loses
// what was not synced: the log is as it was before the import, or, if the
// commit was durable, holds all of it. Never a part, never damage, never a
// crash; the failure is an error status.
TEST_P(ImportWriteModeTest, AnImportOnADiskThatDiesAtAnyStepIsAllOrNothing) {
  TempDir dir;
  WorkloadOptions w;
  w.seed = 8;
  w.sessions = 10;
  w.max_output_bytes = 16 << 10;
  ASSERT_OK(WriteAgentStraceDir(w, dir.Sub("first"), nullptr));
  w.seed = 9;
  w.sessions = 30;
  ASSERT_OK(WriteAgentStraceDir(w, dir.Sub("second"), nullptr));
  // What a reader must see: the first import, or both.
  auto want_first = Tree(dir.Sub("first"));
  auto want_both = want_first;
  for (const auto& [path, bytes] : Tree(dir.Sub("second"))) want_both[path] = bytes;
  const std::string kLog = "/faultlog";
  auto run = [&](uint64_t steps, bool* committed) {
    ::tracelog::FaultInjectionFileSystem ffs;
    LogOptions o = Opts();
    o.fs = &ffs;
    o.tuning.seal_nice = 0;  // the background sealer is not starved by other tests
    {
      auto log = Log::Open(kLog, o);
      ASSERT_OK(log);
      ASSERT_OK(ImportInto(log->get(), dir.Sub("first")));
      ASSERT_OK((*log)->CommitImport());
      ASSERT_OK((*log)->Close());
    }
    ffs.FailAfter(steps);
    *committed = false;
    {
      auto log = Log::Open(kLog, o);
      if (log.ok()) {
        *committed = ImportInto(log->get(), dir.Sub("second")).ok() && (*log)->SealAll().ok() &&
                     (*log)->CommitImport().ok();
        (*log)->Close().IgnoreError();
      }
    }
    ffs.SetAllFail(false);
    ffs.DropUnsyncedData(::tracelog::FaultInjectionFileSystem::DropMode::kTornTail,
                         steps);
    auto log = Log::Open(kLog, o);
    SCOPED_TRACE(absl::StrCat("after dying at step ", steps));
    ASSERT_OK(log);
    const std::string out = dir.Sub(absl::StrCat("out-", steps));
    std::vector<Corruption> damage;
    auto exported = ExportDirectory(log->get(), out, ExportOptions(),
                                    [&](const Corruption& c) { damage.push_back(c); });
    ASSERT_OK(exported);
    EXPECT_TRUE(damage.empty()) << "after dying at step " << steps << ": " << damage[0].ToString();
    const auto got = Tree(out);
    if (*committed) {
      EXPECT_TRUE(got == want_both) << "a committed import is all there, step " << steps;
    } else {
      EXPECT_TRUE(got == want_first || got == want_both) << "all or nothing, step " << steps;
    }
    ASSERT_OK((*log)->Close());
    fs::remove_all(out);
  };
  // Steps 0, 1, 2, 3, 5, 8, ... until an import completes without dying.
  bool committed = false;
  int runs = 0;
  for (uint64_t a = 0, b = 1; !committed; ++runs) {
    run(a, &committed);
    if (::testing::Test::HasFatalFailure()) return;
    const uint64_t next = a + b;
    a = b;
    b = next;
  }
  EXPECT_GT(runs, 8);
}

// Imports the NDJSON stream in the file `path` into the log at `log_dir`
// as one import, committed on success.
absl::StatusOr<ImportReport> ImportStream(const std::string& log_dir, const std::string& path,
                                          const ImportOptions& options = {}) {
  auto log = Log::Open(log_dir, Opts());
  if (!log.ok()) return log.status();
  if (auto first = (*log)->BeginImport(); !first.ok()) return first.status();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(path);
  auto report = ImportNdjsonStream(log->get(), DescriptorFile(fd, path).get(), options);
  ::close(fd);
  if (report.ok()) {
    if (auto s = (*log)->CommitImport(); !s.ok()) return s;
  }
  if (auto s = (*log)->Close(); !s.ok()) return s;
  return report;
}

// A stream imported again (a retry after an error whose import was in fact
// committed) adds only what the log lacks: a line whose event_id the log
// holds for the same session_id (however it got there) is skipped; lines
// without an event_id cannot be recognised and are appended again; the
// same id in another session is another event. Lines repeated within one
// stream are all appended (the check is against the log as it was).
TEST(ImportExportTest, ARetriedStreamImportSkipsTheEventsTheLogHolds) {
  for (const size_t chunk : {size_t{4} << 20, size_t{1021}}) {
    SCOPED_TRACE(absl::StrCat("read_chunk ", chunk));
    TempDir dir;
    const std::string no_id = R"({"event_type":"decision","timestamp":2.5,"session_id":"A","data":{}})";
    const std::string no_session = R"({"event_type":"decision","timestamp":3.5,"event_id":"lone","data":{}})";
    const std::string dup = R"({"event_type":"decision","timestamp":4.5,"event_id":"dup","session_id":"B","data":{}})";
    const std::string x1 = R"({"event_type":"decision","timestamp":1.5,"event_id":"x1","session_id":"A","data":{}})";
    const std::string other_e0 = R"({"event_type":"decision","timestamp":5.5,"event_id":"e0","session_id":"E","data":{}})";
    std::string stream;
    for (int i = 0; i < 20; ++i) {
      absl::StrAppend(&stream, Event(i % 2 ? "A" : "B", i, R"(,"pad":")" + std::string(200, 'p') + "\""), "\n");
      if (i == 5) absl::StrAppend(&stream, no_id, "\n", no_session, "\n", x1, "\n", dup, "\n");
      if (i == 12) absl::StrAppend(&stream, dup, "\n", other_e0, "\n");
    }
    WriteFileOrDie(dir.Sub("stream.ndjson"), stream);
    {
      auto log = Log::Open(dir.Sub("log"), Opts());  // x1 was appended before
      ASSERT_OK(log);
      ASSERT_OK((*log)->Append(x1));
      ASSERT_OK((*log)->Close());
    }
    ImportOptions options;
    options.read_chunk = chunk;
    auto first = ImportStream(dir.Sub("log"), dir.Sub("stream.ndjson"), options);
    ASSERT_OK(first);
    EXPECT_EQ(first->events, 25u);  // 26 lines, x1 skipped
    EXPECT_EQ(first->skipped_present, 1u);
    EXPECT_EQ(EventCount(dir.Sub("log")), 26u);
    auto retry = ImportStream(dir.Sub("log"), dir.Sub("stream.ndjson"), options);
    ASSERT_OK(retry);
    EXPECT_EQ(retry->events, 1u);  // the line without an event_id
    EXPECT_EQ(retry->skipped_present, 25u);
    EXPECT_EQ(EventCount(dir.Sub("log")), 27u);
    // Grown by a line of a known session and one of a new session.
    WriteFileOrDie(dir.Sub("stream.ndjson"),
                   stream + Event("A", 20) + "\n" + Event("D", 21) + "\n");
    auto grown = ImportStream(dir.Sub("log"), dir.Sub("stream.ndjson"), options);
    ASSERT_OK(grown);
    EXPECT_EQ(grown->events, 3u);
    EXPECT_EQ(grown->skipped_present, 25u);
    const std::vector<std::string> all = AllEvents(dir.Sub("log"));
    ASSERT_EQ(all.size(), 30u);
    EXPECT_EQ(all[28], Event("A", 20));
    EXPECT_EQ(all[29], Event("D", 21));
  }
}

// The commit point of an import is the removal of its IMPORT marker.
// CommitImport on a disk that dies at step n of the commit tells whether
// that point was passed: exactly when the marker is gone. When it was
// (the directory sync after the removal failed), the import is there on
// the next open, and importing the stream again adds nothing.
TEST(ImportExportTest, ACommitThatFailsSaysWhetherTheImportIsCommitted) {
  TempDir dir;
  std::string stream;
  for (int i = 0; i < 40; ++i) absl::StrAppend(&stream, Event(absl::StrCat("s", i % 4), i), "\n");
  WriteFileOrDie(dir.Sub("stream.ndjson"), stream);
  const std::string kLog = "/faultlog";
  const std::string marker = JoinPath(kLog, kImportMarkerFileName);
  bool saw_committed_error = false;
  for (uint64_t steps = 0;; ++steps) {
    SCOPED_TRACE(absl::StrCat("the disk dies after ", steps, " steps of the commit"));
    ::tracelog::FaultInjectionFileSystem ffs;
    LogOptions o = Opts();
    o.fs = &ffs;
    auto log = Log::Open(kLog, o);
    ASSERT_OK(log);
    ASSERT_OK((*log)->BeginImport());
    const int fd = ::open(dir.Sub("stream.ndjson").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_OK(ImportNdjsonStream(log->get(), DescriptorFile(fd, "stream").get(), ImportOptions()));
    ::close(fd);
    ffs.FailAfter(steps);
    bool committed = true;
    const absl::Status s = (*log)->CommitImport(&committed);
    ffs.SetAllFail(false);
    auto marker_left = ffs.Exists(marker);
    ASSERT_OK(marker_left);
    EXPECT_EQ(committed, !*marker_left) << s;
    (*log)->Close().IgnoreError();
    log->reset();
    if (s.ok()) {
      EXPECT_TRUE(committed);
      break;
    }
    auto again = Log::Open(kLog, o);
    ASSERT_OK(again);
    EXPECT_EQ((*again)->Stats().events, committed ? 40u : 0u) << s;
    ASSERT_OK((*again)->Close());
    if (!committed) continue;
    saw_committed_error = true;
    // The retry the CLI now suggests: nothing is added.
    auto reopened = Log::Open(kLog, o);
    ASSERT_OK(reopened);
    ASSERT_OK((*reopened)->BeginImport());
    const int fd2 = ::open(dir.Sub("stream.ndjson").c_str(), O_RDONLY | O_CLOEXEC);
    auto retry = ImportNdjsonStream(reopened->get(), DescriptorFile(fd2, "stream").get(), ImportOptions());
    ::close(fd2);
    ASSERT_OK(retry);
    EXPECT_EQ(retry->events, 0u);
    EXPECT_EQ(retry->skipped_present, 40u);
    ASSERT_OK((*reopened)->CommitImport());
    EXPECT_EQ((*reopened)->Stats().events, 40u);
    ASSERT_OK((*reopened)->Close());
  }
  EXPECT_TRUE(saw_committed_error) << "no step failed after the marker's removal";
}

std::string ExportOne(const std::string& log_dir, const std::string& session,
                      const std::string& format) {
  LogOptions o = Opts();
  o.read_only = true;
  auto log = Log::Open(log_dir, o);
  EXPECT_TRUE(log.ok());
  std::string out;
  EXPECT_OK(ExportSession(log->get(), session, format, [&](absl::string_view b) {
    out.append(b.data(), b.size());
    return true;
  }));
  return out;
}

// agent-strace's `export ID` reads ID/events.ndjson: the lines of that file,
// whatever session_id they carry (another one, or none), and not the lines
// of other files that carry ID, nor those a replaced file no longer has.
TEST(ImportExportTest, OneSessionIsTheLinesOfItsDirectorysEventsFile) {
  TempDir dir;
  const std::string none = R"({"event_type":"session_start","timestamp":7,"event_id":"e7","data":{}})";
  const std::map<std::string, std::vector<std::string>> files = {
      {"dirA", {Event("other", 1), Event("other", 2)}},
      {"other", {Event("other", 3)}},
      // The middle line carries another id: the index finds lines 1 and 3.
      {"mixed", {Event("mixed", 4), Event("other", 5), Event("mixed", 6)}},
      {"none", {none}},
  };
  auto lines = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& l : v) out += l + "\n";
    return out;
  };
  for (const auto& [name, v] : files) {
    Put(dir.Sub("src/" + name + "/meta.json"), Meta(name));
    Put(dir.Sub("src/" + name + "/events.ndjson"), lines(v));
  }
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  for (const auto& [name, v] : files) {
    EXPECT_EQ(ExportOne(dir.Sub("log"), name, "ndjson"), lines(v)) << name;
  }
  // Sealed (the lines are then found through the index) and as before.
  {
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    ASSERT_OK((*log)->SealAll());
  }
  for (const auto& [name, v] : files) {
    EXPECT_EQ(ExportOne(dir.Sub("log"), name, "ndjson"), lines(v)) << name << ", sealed";
  }
  // Replaced: only the file's new lines.
  Put(dir.Sub("src/other/events.ndjson"), lines({Event("other", 8)}));
  ImportOptions replace;
  replace.replace = true;
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src"), replace));
  EXPECT_EQ(ExportOne(dir.Sub("log"), "other", "ndjson"), lines({Event("other", 8)}));
  EXPECT_EQ(ExportOne(dir.Sub("log"), "dirA", "ndjson"), lines(files.at("dirA")));
}

TEST(ImportExportTest, OneSessionInAgentStracesExportShapes) {
  TempDir dir;
  // Key order, "" and null fields, number spellings and escapes as
  // TraceEvent(**json.loads(line)) then json.dumps writes them.
  const std::string line =
      R"({"data":{"tool_name":"Bash","arguments":{"command":"ls -l, \"x\""},"n":[1E5,-0,10000000000000000000000,2.50]},)"
      R"("session_id":"s","event_type":"tool_result","timestamp":1795440021.5,"event_id":"e1","parent_id":"","duration_ms":0.0})";
  Put(dir.Sub("src/s/meta.json"), Meta("s"));
  Put(dir.Sub("src/s/events.ndjson"),
      line + "\n" + R"({"event_type":"error","timestamp":2,"event_id":"e2","session_id":"s","duration_ms":12.5,"data":{"message":"caf\u00e9"}})" "\n");
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  EXPECT_EQ(ExportOne(dir.Sub("log"), "s", "ndjson"),
            R"({"event_type":"tool_result","timestamp":1795440021.5,"event_id":"e1","session_id":"s","duration_ms":0.0,"data":{"tool_name":"Bash","arguments":{"command":"ls -l, \"x\""},"n":[100000.0,0,10000000000000000000000,2.5]}})"
            "\n"
            R"({"event_type":"error","timestamp":2,"event_id":"e2","session_id":"s","duration_ms":12.5,"data":{"message":"caf\u00e9"}})"
            "\n");
  EXPECT_EQ(ExportOne(dir.Sub("log"), "s", "json"),
            "[\n"
            "  {\n"
            "    \"event_type\": \"tool_result\",\n"
            "    \"timestamp\": 1795440021.5,\n"
            "    \"event_id\": \"e1\",\n"
            "    \"session_id\": \"s\",\n"
            "    \"duration_ms\": 0.0,\n"
            "    \"data\": {\n"
            "      \"tool_name\": \"Bash\",\n"
            "      \"arguments\": {\n"
            "        \"command\": \"ls -l, \\\"x\\\"\"\n"
            "      },\n"
            "      \"n\": [\n"
            "        100000.0,\n"
            "        0,\n"
            "        10000000000000000000000,\n"
            "        2.5\n"
            "      ]\n"
            "    }\n"
            "  },\n"
            "  {\n"
            "    \"event_type\": \"error\",\n"
            "    \"timestamp\": 2,\n"
            "    \"event_id\": \"e2\",\n"
            "    \"session_id\": \"s\",\n"
            "    \"duration_ms\": 12.5,\n"
            "    \"data\": {\n"
            "      \"message\": \"caf\\u00e9\"\n"
            "    }\n"
            "  }\n"
            "]\n");
  EXPECT_EQ(ExportOne(dir.Sub("log"), "s", "csv"),
            "timestamp,event_type,event_id,parent_id,duration_ms,data\r\n"
            "1795440021.5,tool_result,e1,,,\"{\"\"tool_name\"\": \"\"Bash\"\", \"\"arguments\"\": "
            "{\"\"command\"\": \"\"ls -l, \\\"\"x\\\"\"\"\"}, \"\"n\"\": [100000.0, 0, "
            "10000000000000000000000, 2.5]}\"\r\n"
            "2,error,e2,,12.5,\"{\"\"message\"\": \"\"caf\\u00e9\"\"}\"\r\n");
}

INSTANTIATE_TEST_SUITE_P(Appends, ImportWriteModeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Pwrite" : "Mapped";
                         });

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// Issue 14, point 4: retention left the attachment packs (meta.json,
// annotations, layouts) of sessions whose events it removed, and the export
// recreated every one of those sessions.
TEST(ImportExportTest, RetentionRemovesTheAttachmentsOfSessionsWithNoEventLeft) {
  TempDir dir;
  ASSERT_OK(WriteAgentStraceDir(Fleet(11, 8, 200, 2), dir.Sub("src"), nullptr));
  ASSERT_OK(Import(dir.Sub("log"), dir.Sub("src")));
  auto packs = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.Sub("log"))) {
      n += ParseAttachFileName(e.path().filename().string()).has_value();
    }
    return n;
  };
  ASSERT_EQ(packs(), 1u);
  {
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    ASSERT_OK((*log)->SealAll());
    // Keep about half of the log: the sessions still in it keep their files.
    const uint64_t half = (*log)->Stats().stored_bytes / 2;
    RetainOptions r;
    r.max_bytes = half;
    auto retained = (*log)->Retain(r);
    ASSERT_OK(retained);
    ASSERT_GT(retained->removed_events, 0u);
    EXPECT_EQ(retained->pruned_packs, 1u);
    ASSERT_OK((*log)->Close());
  }
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("half")));
  const auto src = Tree(dir.Sub("src"));
  std::set<std::string> exported;
  for (const auto& [path, bytes] : Tree(dir.Sub("half"))) {
    const std::string session = path.substr(0, path.find('/'));
    if (path == session + "/meta.json") {
      exported.insert(session);
      EXPECT_EQ(bytes, src.at(path)) << path;  // a remaining session's own file
    }
  }
  EXPECT_GT(exported.size(), 0u);
  EXPECT_LT(exported.size(), 200u);
  {
    auto log = Log::Open(dir.Sub("log"), Opts());
    ASSERT_OK(log);
    RetainOptions r;
    r.max_bytes = 1;  // every sealed segment
    ASSERT_OK((*log)->Retain(r));
    ASSERT_OK((*log)->Close());
  }
  EXPECT_EQ(packs(), 0u);
  ASSERT_OK(Export(dir.Sub("log"), dir.Sub("none")));
  EXPECT_TRUE(Tree(dir.Sub("none")).empty());
}

}  // namespace
}  // namespace tracelog
