#ifndef TRACELOG_TOOLS_QUERY_FLAGS_H_
#define TRACELOG_TOOLS_QUERY_FLAGS_H_

// The filter flags `tracelog query` and `tracelog export` share.

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

// The query the flags describe; session prefixes resolved through `engine`.
// NotFoundError when a --session names no session of the log.
absl::StatusOr<Query> BuildQuery(const QueryFilterFlags& f, QueryEngine* engine);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_QUERY_FLAGS_H_
