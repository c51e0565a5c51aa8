#ifndef TRACELOG_ENGINE_QUERY_QUERY_FILTERS_H_
#define TRACELOG_ENGINE_QUERY_QUERY_FILTERS_H_

// Query filters as a person writes them (the CLI's --session/--type/...
// flags, the HTTP API's parameters), and the Query they describe.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/query/query.h"

namespace tracelog {

// Each list may hold comma-separated values ("a,b" and two values "a", "b"
// mean the same).
struct QueryFilters {
  std::vector<std::string> sessions;  // ids or unambiguous prefixes
  std::vector<std::string> types, tools, agents;
  bool error = false;
  std::string since, until;  // TIME (query_time.h)
  // Whether any filter beyond the sessions is given.
  bool Filters() const {
    return !types.empty() || !tools.empty() || !agents.empty() || error || !since.empty() ||
           !until.empty();
  }
};

// The query the filters describe; session prefixes resolved through
// `engine`, except names `exact` accepts as they are (the export's imported
// session directories, whose events may carry another session_id or none).
// A whole sessions value that is a session id is one id even if it holds
// commas; else it is a comma-separated list. NotFoundError when a session
// value names no session of the log; InvalidArgumentError for a bad TIME or
// an ambiguous prefix.
absl::StatusOr<Query> BuildQuery(const QueryFilters& f, QueryEngine* engine,
                                 const std::function<bool(const std::string&)>& exact = nullptr);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_QUERY_FILTERS_H_
