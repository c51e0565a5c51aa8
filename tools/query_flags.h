#ifndef TRACELOG_TOOLS_QUERY_FLAGS_H_
#define TRACELOG_TOOLS_QUERY_FLAGS_H_

// The filter flags `tracelog query` and `tracelog export` share.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/query/query.h"

namespace CLI {
class App;
}

namespace tracelog::cli {

struct QueryFilterFlags {
  std::vector<std::string> sessions, types, tools, agents;
  bool error = false;
  std::string since, until;
  // Whether any filter beyond --session is given.
  bool Filters() const {
    return !types.empty() || !tools.empty() || !agents.empty() || error || !since.empty() ||
           !until.empty();
  }
};

// Adds --session, --type, --tool, --error, --agent, --since, --until.
void AddQueryFilterOptions(CLI::App* sub, QueryFilterFlags* f);

// The query the flags describe; session prefixes resolved through `engine`,
// except names `exact` accepts as they are (the export's imported session
// directories, whose events may carry another session_id or none). A whole
// --session value that is a session id is one id even if it holds commas;
// else it is a comma-separated list. NotFoundError when a --session names
// no session of the log.
absl::StatusOr<Query> BuildQuery(
    const QueryFilterFlags& f, QueryEngine* engine,
    const std::function<bool(const std::string&)>& exact = nullptr);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_QUERY_FLAGS_H_
