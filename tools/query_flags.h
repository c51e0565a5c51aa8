#ifndef TRACELOG_TOOLS_QUERY_FLAGS_H_
#define TRACELOG_TOOLS_QUERY_FLAGS_H_

// The filter flags `tracelog query`, `tail` and `export` share.

#include "engine/query/event_match.h"
#include "engine/query/query_filters.h"

namespace CLI {
class App;
}

namespace tracelog::cli {

// The filters; BuildQuery (engine/query/query_filters.h) makes the query.
using QueryFilterFlags = QueryFilters;

// Adds --session, --type, --tool, --error, --agent, --since, --until.
void AddQueryFilterOptions(CLI::App* sub, QueryFilterFlags* f);

// Adds --grep, --grep-field, --where, --model (engine/query/event_match.h):
// filters on what events say, applied after the index has pruned.
void AddContentFilterOptions(CLI::App* sub, ContentFilters* f);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_QUERY_FLAGS_H_
