#ifndef TRACELOG_ENGINE_QUERY_QUERY_TIME_H_
#define TRACELOG_ENGINE_QUERY_QUERY_TIME_H_

// The TIME arguments of queries (--since, --until).

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog {

// Parses a TIME argument: epoch seconds ("1795440000.5"), RFC 3339
// ("2026-11-23T02:00:00Z"), or an age relative to `now` ("15m", "24h", "7d",
// "30s"). InvalidArgumentError naming the text.
absl::StatusOr<double> ParseQueryTime(absl::string_view text, double now);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_QUERY_TIME_H_
