// tracelog gen: a deterministic agent-fleet workload (engine/workload/workload.h).

#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/workload/workload.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct GenFlags {
  WorkloadOptions w;
  std::string format = "ndjson";
  std::string out = "-";
};

int RunGen(const GenFlags& f) {
  uint64_t bytes = 0;
  absl::Status s;
  if (f.format == "dir") {
    if (f.out == "-") {
      PrintError("--format dir needs --out DIR");
      return kExitError;
    }
    s = WriteAgentStraceDir(f.w, f.out, &bytes);
  } else {
    s = WriteFleetNdjson(f.w, f.out, &bytes);
  }
  if (!s.ok()) {
    PrintError(s);
    return kExitError;
  }
  if (f.out != "-") {
    std::fprintf(stderr, "wrote %llu bytes (%d sessions of %d agents, seed %llu) to %s\n",
                 static_cast<unsigned long long>(bytes), f.w.sessions, f.w.agents,
                 static_cast<unsigned long long>(f.w.seed), f.out.c_str());
  }
  return kExitOk;
}

}  // namespace

Command RegisterGen(CLI::App& app) {
  auto f = std::make_shared<GenFlags>();
  CLI::App* sub = app.add_subcommand(
      "gen",
      "Generate a deterministic fleet workload in agent-strace's format: N agents, M sessions,\n"
      "all 12 event types, parent_id links, realistic sizes. As one NDJSON stream of\n"
      "interleaved events (default, stdout) or as an agent-strace directory (--format dir).");
  sub->add_option("--agents", f->w.agents, "Number of agents (default 8)")->check(CLI::Range(1, 1 << 20));
  sub->add_option("--sessions", f->w.sessions, "Number of sessions (default 64)")->check(CLI::Range(1, 1 << 26));
  sub->add_option("--turns", f->w.turns_per_session, "Mean turns per session (default 8)")->check(CLI::Range(1, 1 << 20));
  sub->add_option("--seed", f->w.seed, "Seed; the same seed gives the same bytes (default 1)");
  sub->add_option("--span", f->w.span_seconds, "Seconds over which sessions start (default 3600)");
  sub->add_option("--format", f->format, "ndjson (one interleaved stream) or dir (agent-strace tree)")
      ->check(CLI::IsMember({"ndjson", "dir"}));
  sub->add_option("--out", f->out, "Output file or directory (default: stdout)")->type_name("PATH");
  return {sub, [f] { return RunGen(*f); }};
}

}  // namespace tracelog::cli
