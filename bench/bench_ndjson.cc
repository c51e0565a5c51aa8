// Import and export of agent-strace directories (issue 5), side by side with
// the I/O floor: reading every file of the tree (the least an import does),
// and reading and writing every file (the least an export does: `cp -r`);
// and with the compression floor: the tree through zstd level 3 on both
// cores (what `zstd -3 -T2` of the concatenated files does). An import also
// compresses every byte at level 3 (with the log's dictionary, in 128 KiB
// frames), so its ratio to that baseline says how much of the machine's
// speed it keeps, whichever way the machine's speed swings.
//
// The tree is generated once per run in $TRACELOG_BENCH_DIR/ndjson-tree
// (2,000 sessions of 24 agents, ~240 MB), or taken from
// $TRACELOG_BENCH_TREE if that names one.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "engine/workload/workload.h"
#include "benchmark/benchmark.h"
#include "engine/log/log.h"
#include "engine/ndjson/exporter.h"
#include "engine/ndjson/importer.h"
#include "zstd.h"

namespace tracelog {
namespace {

namespace fs = std::filesystem;

struct Tree {
  std::string root;
  std::vector<std::string> files;  // relative paths
  std::vector<uint64_t> sizes;     // of each file
  uint64_t bytes = 0;
};

const Tree& TheTree() {
  static Tree* t = [] {
    auto* tree = new Tree();
    if (const char* d = std::getenv("TRACELOG_BENCH_TREE")) {
      tree->root = d;
    } else {
      tree->root = bench::FreshDir("ndjson-tree") + "/src";
      WorkloadOptions w;
      w.seed = 1;
      w.agents = 24;
      w.sessions = 2000;
      if (!WriteAgentStraceDir(w, tree->root, nullptr).ok()) std::abort();
    }
    for (const auto& e : fs::recursive_directory_iterator(tree->root)) {
      if (!e.is_regular_file()) continue;
      tree->files.push_back(fs::relative(e.path(), tree->root).string());
      tree->sizes.push_back(e.file_size());
      tree->bytes += tree->sizes.back();
    }
    return tree;
  }();
  return *t;
}

// A whole file into *buf.
bool ReadInto(const std::string& path, std::string* buf) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return false;
  buf->resize(st.st_size);
  const bool ok = ::read(fd, buf->data(), buf->size()) == static_cast<ssize_t>(buf->size());
  ::close(fd);
  return ok;
}

LogOptions Options() {
  LogOptions o;
  o.sync.kind = SyncPolicy::Kind::kNever;  // as `tracelog import`: durable at the commit
  o.tuning.seal_nice = 0;                         // and sealing on the other core meanwhile
  o.tuning.append_with_pwrite = true;             // and its appends
  return o;
}

ImportOptions Importing() {
  ImportOptions o;
  o.help_seal = true;  // as `tracelog import`: the importing thread seals too
  return o;
}

void BM_Import_Directory(benchmark::State& state) {
  const Tree& tree = TheTree();
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = bench::FreshDir("ndjson-import");
    state.ResumeTiming();
    auto log = Log::Open(dir, Options());
    if (!log.ok()) state.SkipWithError("open");
    auto first = (*log)->BeginImport();
    auto report = ImportDirectory(log->get(), *first, tree.root, Importing());
    if (!report.ok()) state.SkipWithError(std::string(report.status().message()).c_str());
    // As `tracelog import`: sealed, then committed.
    if (!(*log)->SealAll().ok() || !(*log)->CommitImport().ok() || !(*log)->Close().ok()) {
      state.SkipWithError("seal/commit");
    }
  }
  state.SetBytesProcessed(state.iterations() * tree.bytes);
}
BENCHMARK(BM_Import_Directory)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_Import_ReadTreeBaseline(benchmark::State& state) {
  const Tree& tree = TheTree();
  std::string buf;
  for (auto _ : state) {
    for (const std::string& f : tree.files) {
      if (!ReadInto(tree.root + "/" + f, &buf)) state.SkipWithError("read");
      benchmark::DoNotOptimize(buf.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * tree.bytes);
}
BENCHMARK(BM_Import_ReadTreeBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

// Every file read and streamed through zstd level 3, on two threads (each
// one frame over its half of the tree's bytes), as `zstd -3 -T2` would.
void BM_Import_Zstd3TwoThreadsBaseline(benchmark::State& state) {
  const Tree& tree = TheTree();
  size_t middle = 0;  // files [0, middle) hold about half of the bytes
  for (uint64_t bytes = 0; middle < tree.files.size() && bytes < tree.bytes / 2; ++middle) {
    bytes += tree.sizes[middle];
  }
  std::atomic<uint64_t> compressed{0};
  std::atomic<bool> failed{false};
  auto compress = [&](size_t begin, size_t end) {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    std::string buf, out(ZSTD_CStreamOutSize(), '\0');
    uint64_t n = 0;
    for (size_t i = begin; i < end; ++i) {
      if (!ReadInto(tree.root + "/" + tree.files[i], &buf)) failed = true;
      const ZSTD_EndDirective mode = i + 1 == end ? ZSTD_e_end : ZSTD_e_continue;
      ZSTD_inBuffer in{buf.data(), buf.size(), 0};
      size_t left;
      do {
        ZSTD_outBuffer o{out.data(), out.size(), 0};
        left = ZSTD_compressStream2(cctx, &o, &in, mode);
        if (ZSTD_isError(left)) {
          failed = true;
          break;
        }
        n += o.pos;
      } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
    }
    ZSTD_freeCCtx(cctx);
    compressed += n;
  };
  for (auto _ : state) {
    compressed = 0;
    std::thread other(compress, middle, tree.files.size());
    compress(0, middle);
    other.join();
  }
  if (failed) state.SkipWithError("read or zstd failed");
  state.SetBytesProcessed(state.iterations() * tree.bytes);
  state.counters["ratio"] = static_cast<double>(tree.bytes) / static_cast<double>(compressed);
}
BENCHMARK(BM_Import_Zstd3TwoThreadsBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

const std::string& ImportedLog() {
  static std::string* dir = [] {
    auto* d = new std::string(bench::FreshDir("ndjson-log"));
    auto log = Log::Open(*d, Options());
    auto first = (*log)->BeginImport();
    if (!ImportDirectory(log->get(), *first, TheTree().root, Importing()).ok() ||
        !(*log)->SealAll().ok() || !(*log)->CommitImport().ok() || !(*log)->Close().ok()) {
      std::abort();
    }
    return d;
  }();
  return *dir;
}

void BM_Export_Directory(benchmark::State& state) {
  const Tree& tree = TheTree();
  LogOptions ro = Options();
  ro.read_only = true;
  auto log = Log::Open(ImportedLog(), ro);
  if (!log.ok()) state.SkipWithError("open");
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string out = bench::FreshDir(absl::StrCat("ndjson-export-", round++));
    state.ResumeTiming();
    auto r = ExportDirectory(log->get(), out + "/out", ExportOptions());
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  state.SetBytesProcessed(state.iterations() * tree.bytes);
}
BENCHMARK(BM_Export_Directory)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_Export_CopyTreeBaseline(benchmark::State& state) {
  const Tree& tree = TheTree();
  std::string buf;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string out = bench::FreshDir(absl::StrCat("ndjson-copy-", round++));
    state.ResumeTiming();
    for (const std::string& f : tree.files) {
      if (!ReadInto(tree.root + "/" + f, &buf)) state.SkipWithError("read");
      const fs::path to = fs::path(out) / f;
      fs::create_directories(to.parent_path());
      const int wfd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (::write(wfd, buf.data(), buf.size()) < 0) state.SkipWithError("write");
      ::close(wfd);
    }
  }
  state.SetBytesProcessed(state.iterations() * tree.bytes);
}
BENCHMARK(BM_Export_CopyTreeBaseline)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace
}  // namespace tracelog
