// tracelog: the command-line front end of the tracelog engine. A thin
// dispatcher; each subcommand lives in cmd_<name>.cc.

#include <malloc.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/format/segment_format.h"
#include "engine/version.h"
#include "tools/cli.h"

namespace tracelog::cli {

void AddLogOption(CLI::App* sub, std::string* dir) {
  const char* env = std::getenv("TRACELOG_DIR");
  *dir = env != nullptr && *env != '\0' ? env : ".tracelog";
  sub->add_option("--log", *dir, "Log directory (default: $TRACELOG_DIR, else ./.tracelog)")
      ->type_name("DIR");
}

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "tracelog: %s\n", std::string(status.message()).c_str());
}
void PrintError(const std::string& message) {
  std::fprintf(stderr, "tracelog: %s\n", message.c_str());
}

void StdoutWriter::WriteAll(iovec* v, size_t k) {
  // Partial writes (a pipe) resume where they stopped.
  while (k > 0 && ok_) {
    ssize_t w = ::writev(1, v, static_cast<int>(std::min<size_t>(k, IOV_MAX)));
    if (w < 0) {
      if (errno == EINTR) continue;
      ok_ = false;
      broken_pipe_ = errno == EPIPE;
      if (!broken_pipe_) PrintError(absl::StrCat("writing stdout: ", std::strerror(errno)));
      return;
    }
    while (k > 0 && static_cast<size_t>(w) >= v->iov_len) {
      w -= static_cast<ssize_t>(v->iov_len);
      ++v;
      --k;
    }
    if (k > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + w;
      v->iov_len -= static_cast<size_t>(w);
    }
  }
}

void StdoutWriter::WriteLines(absl::Span<const BlockEvent> events) {
  // At most 512 events (1,024 iovecs, IOV_MAX) a call.
  static const char kNewline = '\n';
  constexpr size_t kMaxEvents = 512;
  iovec iov[2 * kMaxEvents];
  if (!Flush()) return;
  for (size_t at = 0; at < events.size() && ok_;) {
    const size_t n = std::min(kMaxEvents, events.size() - at);
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
      const absl::string_view e = events[at + i].event;
      iov[k++] = iovec{const_cast<char*>(e.data()), e.size()};
      iov[k++] = iovec{const_cast<char*>(&kNewline), 1};
    }
    at += n;
    WriteAll(iov, k);
  }
}

bool StdoutWriter::Flush() {
  if (!buf_.empty()) {
    iovec v{buf_.data(), buf_.size()};
    WriteAll(&v, 1);
  }
  buf_.clear();
  return ok_;
}

std::string FormatTimestamp(double epoch_seconds) {
  const absl::Time t = absl::FromUnixMicros(static_cast<int64_t>(epoch_seconds * 1e6));
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

}  // namespace tracelog::cli

namespace {

// The CLI's heap in transparent huge pages. On the small VMs tracelog runs on
// a page fault costs ~25 us, and a query that loads the indexes of a few
// dozen sealed segments touches thousands of fresh heap pages (~40 ms);
// with 2 MiB pages that is a handful of faults. glibc grows the heap with
// brk by M_TOP_PAD at a time; the range is marked MADV_HUGEPAGE (honoured in
// the kernel's default "madvise" mode) and kept (no trimming).
void UseHugePagesForTheHeap() {
  constexpr size_t kPad = 64 << 20;
  mallopt(M_TOP_PAD, kPad);
  mallopt(M_TRIM_THRESHOLD, 2 * kPad);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // large blocks from the heap too
  // Query threads allocate from this heap too, not from arenas of their own
  // in small pages.
  mallopt(M_ARENA_MAX, 1);
  // Grow the heap now (static initialisers already started it small).
  void* probe = std::malloc(kPad / 4);
  const uintptr_t start = reinterpret_cast<uintptr_t>(probe);
  const uintptr_t end = reinterpret_cast<uintptr_t>(sbrk(0));
  const uintptr_t huge = uintptr_t{2} << 20;
  const uintptr_t from = (start + huge - 1) & ~(huge - 1);
  if (end > from) madvise(reinterpret_cast<void*>(from), end - from, MADV_HUGEPAGE);
  std::free(probe);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tracelog::cli;
  UseHugePagesForTheHeap();
  // Writing to a closed pipe (tracelog dump | head) must end quietly, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "tracelog: a crash-safe, checksummed, memory-mapped append-only log for AI agent traces.\n"
      "Events are NDJSON lines (agent-strace's format); see format-spec/ for the on-disk format.\n"
      "Exit codes: 0 success, 1 negative result (nothing found, damage found, rejected lines),\n"
      "2 usage or I/O error."};
  app.name("tracelog");
  app.set_version_flag("--version",
                       absl::StrCat("tracelog ", tracelog::kTracelogVersion, " (on-disk format ",
                                    tracelog::kFormatVersion, ")"),
                       "Print the version and the on-disk format version");
  app.require_subcommand(1, 1);
  app.failure_message(CLI::FailureMessage::help);

  const std::vector<Command> commands = {
      RegisterAppend(app), RegisterDump(app),     RegisterVerify(app),  RegisterInfo(app),
      RegisterQuery(app),  RegisterSessions(app), RegisterSeal(app),    RegisterReindex(app),
      RegisterRetain(app), RegisterImport(app),   RegisterExport(app),  RegisterGen(app),
      RegisterServe(app),  RegisterHook(app),     RegisterSetup(app),   RegisterList(app),
      RegisterStats(app),  RegisterInspect(app),  RegisterTree(app),    RegisterReplay(app),
      RegisterTail(app),   RegisterDiff(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors: message (and help hint) on stderr, exit 2.
    std::cerr << "tracelog: " << e.what() << "\n"
              << "Run 'tracelog --help' or 'tracelog <subcommand> --help'.\n";
    return kExitError;
  }
  for (const Command& c : commands) {
    if (c.sub->parsed()) return c.run();
  }
  return kExitError;
}
