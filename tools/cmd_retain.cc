// tracelog retain: drop old sealed segments.

#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct RetainFlags {
  std::string dir;
  std::string max_age;
  std::string max_bytes;
};

int RunRetain(const RetainFlags& f) {
  RetainOptions o;
  if (!f.max_age.empty()) {
    absl::Duration d;
    // "7d" is not a Go-style duration: days are converted here.
    std::string text = f.max_age;
    bool ok;
    if (!text.empty() && text.back() == 'd') {
      double days;
      ok = absl::SimpleAtod(text.substr(0, text.size() - 1), &days) && days >= 0;
      d = absl::Hours(24 * days);
    } else {
      ok = absl::ParseDuration(text, &d) && d >= absl::ZeroDuration();
    }
    if (!ok || d == absl::ZeroDuration()) {
      PrintError(absl::StrCat("bad --max-age '", f.max_age, "' (expected e.g. 7d, 36h, 90m)"));
      return kExitError;
    }
    o.max_age_seconds = absl::ToDoubleSeconds(d);
  }
  if (!f.max_bytes.empty()) {
    auto n = ParseByteSize(f.max_bytes);
    if (!n || *n == 0) {
      PrintError(absl::StrCat("bad --max-bytes '", f.max_bytes, "' (expected e.g. 500m, 20g)"));
      return kExitError;
    }
    o.max_bytes = *n;
  }
  if (o.max_age_seconds == 0 && o.max_bytes == 0) {
    PrintError("give --max-age and/or --max-bytes");
    return kExitError;
  }
  auto log = OpenLog(f.dir, /*read_only=*/false);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  auto r = (*log)->Retain(o);
  absl::Status s = r.status();
  if (auto c = (*log)->Close(); s.ok()) s = c;
  if (!s.ok()) {
    PrintError(s);
    return kExitError;
  }
  for (const std::string& p : r->removed) std::printf("removed %s\n", p.c_str());
  std::printf("removed %zu segment(s), %llu events, %llu bytes; %llu bytes remain\n",
              r->removed.size(), static_cast<unsigned long long>(r->removed_events),
              static_cast<unsigned long long>(r->removed_bytes),
              static_cast<unsigned long long>(r->bytes_after));
  return kExitOk;
}

}  // namespace

Command RegisterRetain(CLI::App& app) {
  auto f = std::make_shared<RetainFlags>();
  CLI::App* sub = app.add_subcommand(
      "retain",
      "Remove whole sealed segments, oldest first: those whose newest event is older than\n"
      "--max-age, then more while the log takes more than --max-bytes. Never a raw segment, so\n"
      "never the active one (run `tracelog seal` first to make everything removable).\n"
      "Crash-safe: the log stays a gap-free range of sequences at every step.");
  AddLogOption(sub, &f->dir);
  sub->add_option("--max-age", f->max_age, "Age limit by event timestamp: 7d, 36h, 90m, 30s")
      ->type_name("D");
  sub->add_option("--max-bytes", f->max_bytes, "Size limit of the log's files: 500m, 20g")
      ->type_name("N");
  return {sub, [f] { return RunRetain(*f); }};
}

}  // namespace tracelog::cli
