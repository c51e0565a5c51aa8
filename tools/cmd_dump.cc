// tracelog dump: every stored event, original bytes, one per line.

#include <memory>

#include <CLI/CLI.hpp>

#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct DumpFlags {
  std::string dir;
  uint64_t from = 1;
  uint64_t limit = 0;
};

int RunDump(const DumpFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  ReaderOptions ro;
  ro.want_keys = false;  // only the bytes are printed
  ro.from_sequence = f.from;
  ro.reporter = [](const Corruption& c) { PrintError("skipped " + c.ToString()); };
  auto reader = (*log)->NewReader(ro);
  StdoutWriter out;
  LogEvent ev;
  uint64_t n = 0;
  // (Sequences no segment holds are reported by the reader as damage;
  // those a gap file explains are skipped quietly.)
  while ((f.limit == 0 || n < f.limit) && reader->Next(&ev)) {
    out.Write(ev.event);
    out.Write("\n");
    ++n;
    if (!out.ok()) break;
  }
  out.Flush();
  if (out.broken_pipe()) return kExitOk;
  if (!out.ok()) return kExitError;
  return reader->corruptions() > 0 ? kExitNegative : kExitOk;
}

}  // namespace

Command RegisterDump(CLI::App& app) {
  auto f = std::make_shared<DumpFlags>();
  CLI::App* sub = app.add_subcommand(
      "dump",
      "Print every stored event, byte for byte as appended, one per line, in sequence order.\n"
      "Damaged ranges are reported on stderr and skipped (exit 1); never a corrupted event.");
  AddLogOption(sub, &f->dir);
  sub->add_option("--from", f->from, "First sequence number to print (default 1)")
      ->type_name("SEQ");
  sub->add_option("--limit", f->limit, "Print at most N events (default: all)")->type_name("N");
  return {sub, [f] { return RunDump(*f); }};
}

}  // namespace tracelog::cli
