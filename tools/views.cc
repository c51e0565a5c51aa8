#include "tools/views.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tools/cli.h"

namespace tracelog::cli {

void AddFormatOption(CLI::App* sub, std::string* format, const std::string& allowed) {
  std::vector<std::string> names = absl::StrSplit(allowed, '|');
  sub->add_option("--format", *format,
                  absl::StrCat("Output: ", allowed,
                               ". Default: table on a terminal, ndjson when piped"))
      ->check(CLI::IsMember(names))
      ->type_name("FORMAT");
}

OutputFormat ChosenFormat(const std::string& format) {
  if (format == "table") return OutputFormat::kTable;
  if (format == "ndjson") return OutputFormat::kNdjson;
  if (format == "json") return OutputFormat::kJson;
  if (format == "csv") return OutputFormat::kCsv;
  return StdoutIsTerminal() ? OutputFormat::kTable : OutputFormat::kNdjson;
}

namespace {

struct TerminalFacts {
  bool is_terminal = false;
  int width = 100;
};

const TerminalFacts& Facts() {
  static const TerminalFacts facts = [] {
    TerminalFacts f;
    f.is_terminal = isatty(STDOUT_FILENO) == 1;
    winsize w{};
    if (f.is_terminal && ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) {
      f.width = w.ws_col;
    }
    return f;
  }();
  return facts;
}

}  // namespace

bool StdoutIsTerminal() { return Facts().is_terminal; }
int TerminalWidth() { return Facts().width; }

bool UseColour() {
  const char* no_colour = std::getenv("NO_COLOR");
  return StdoutIsTerminal() && (no_colour == nullptr || no_colour[0] == '\0');
}

absl::StatusOr<std::string> ResolveSessionArg(QueryEngine* engine, absl::string_view arg) {
  if (arg != "latest") return engine->ResolveSession(arg);
  auto catalog = engine->Catalog();
  if (!catalog.ok()) return catalog.status();
  const CatalogEntry* newest = nullptr;
  for (const CatalogEntry& e : *catalog) {
    // Ties (and sessions without a timestamp) go to the greater id.
    if (newest == nullptr || e.first_timestamp > newest->first_timestamp ||
        (e.first_timestamp == newest->first_timestamp && e.id > newest->id)) {
      newest = &e;
    }
  }
  if (newest == nullptr) return absl::NotFoundError("the log holds no session ('latest')");
  return newest->id;
}

void ExitNow(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

void AppendCsvField(absl::string_view s, std::string* out) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendPadded(absl::string_view s, size_t width, bool right_align, std::string* out) {
  const size_t pad = s.size() < width ? width - s.size() : 0;
  if (right_align) out->append(pad, ' ');
  out->append(s.data(), s.size());
  if (!right_align) out->append(pad, ' ');
}

void AppendUtcSeconds(double epoch_seconds, std::string* out) {
  // Years 1970..9999: days to a civil date (H. Hinnant's civil_from_days);
  // anything else through absl.
  if (!(epoch_seconds >= 0 && epoch_seconds < 253402300800.0)) {
    out->append(FormatTimestamp(epoch_seconds).substr(0, 19));
    return;
  }
  const int64_t secs = static_cast<int64_t>(epoch_seconds);
  const int64_t z = secs / 86400 + 719468;
  const int64_t sod = secs % 86400;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[20];
  auto two = [&](int at, int64_t v) {
    buf[at] = static_cast<char>('0' + v / 10);
    buf[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, y / 100);
  two(2, y % 100);
  buf[4] = '-';
  two(5, m);
  buf[7] = '-';
  two(8, d);
  buf[10] = 'T';
  two(11, sod / 3600);
  buf[13] = ':';
  two(14, sod / 60 % 60);
  buf[16] = ':';
  two(17, sod % 60);
  out->append(buf, 19);
}

std::string HumanDuration(double ms) {
  if (ms < 1000) return absl::StrFormat("%.0fms", ms);
  const double s = ms / 1000;
  if (s < 60) return absl::StrFormat("%.1fs", s);
  const int64_t whole = static_cast<int64_t>(s);
  if (whole < 3600) return absl::StrFormat("%dm%02ds", whole / 60, whole % 60);
  return absl::StrFormat("%dh%02dm", whole / 3600, whole % 3600 / 60);
}

}  // namespace tracelog::cli
