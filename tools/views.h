#ifndef TRACELOG_TOOLS_VIEWS_H_
#define TRACELOG_TOOLS_VIEWS_H_

// What the views of sessions (`list`, `stats`, `inspect`, `tree`, ...)
// share: the output format a person gets by default, colours, and session
// arguments (an id, an unambiguous prefix, or `latest`).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/query/query.h"

namespace CLI {
class App;
}

namespace tracelog::cli {

enum class OutputFormat { kTable, kNdjson, kJson, kCsv };

// --format FORMAT (table|ndjson|json|csv). Unset: a table when stdout is a
// terminal, NDJSON when it is not (a pipe, a file).
void AddFormatOption(CLI::App* sub, std::string* format, const std::string& allowed =
                                                              "table|ndjson|json|csv");
OutputFormat ChosenFormat(const std::string& format);

// Whether stdout is a terminal, and its width in columns (else 100), as
// they were at the first call: a pager (tools/pager.h) replaces stdout with
// a pipe, and what is written there is still for the terminal.
bool StdoutIsTerminal();
int TerminalWidth();

// Whether to colour output: stdout is a terminal and NO_COLOR is unset or
// empty.
bool UseColour();

// The session `arg` names: an exact id, an unambiguous prefix, or `latest`
// (the session whose first event is newest). NotFoundError /
// InvalidArgumentError (ambiguous, naming candidates) as
// QueryEngine::ResolveSession.
absl::StatusOr<std::string> ResolveSessionArg(QueryEngine* engine, absl::string_view arg);

// Ends the process with `code` now that the output is written: flushes
// stdout and stderr and exits without running destructors. A view of the
// whole log holds the catalog and the indexes of every segment (12k
// sessions: ~50 MB in many small blocks), which take longer to free one by
// one than the kernel takes to drop at once. Only for read-only commands,
// after any pager was waited for.
[[noreturn]] void ExitNow(int code);

// Appends `s` as a CSV field (RFC 4180: quoted when it holds a comma, a
// quote or a line break; quotes doubled).
void AppendCsvField(absl::string_view s, std::string* out);

// Appends `s` padded with spaces to `width` bytes, on the right (left
// aligned) or on the left (`right_align`); longer, as it is.
void AppendPadded(absl::string_view s, size_t width, bool right_align, std::string* out);

// Appends epoch seconds as "YYYY-MM-DDTHH:MM:SS" (UTC, whole seconds), as
// FormatTimestamp's first 19 characters, without a time-zone library.
void AppendUtcSeconds(double epoch_seconds, std::string* out);

// Duration as a person reads it: "850ms", "12.4s", "3m05s", "2h07m".
std::string HumanDuration(double ms);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_VIEWS_H_
