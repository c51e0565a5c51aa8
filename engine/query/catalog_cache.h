#ifndef TRACELOG_ENGINE_QUERY_CATALOG_CACHE_H_
#define TRACELOG_ENGINE_QUERY_CATALOG_CACHE_H_

// catalog.cache: the session catalog of a log's first segments (every one
// whose events can no longer change: all but the active one), merged, so
// that QueryEngine::Catalog reads one file instead of every segment's index
// and merges only what came after. Derived data like stats.cache: missing,
// damaged or not matching the log's segments, it is rebuilt; not writable,
// done without. Format: format-spec/README.md, "Catalog cache".

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/query/query.h"
#include "engine/query/segment_identity.h"

namespace tracelog {

inline constexpr char kCatalogCacheFileName[] = "catalog.cache";

struct CatalogCache {
  std::vector<SegmentKey> segments;  // the segments it covers, in sequence order
  std::vector<CatalogEntry> entries;  // their sessions, by id
};

std::string EncodeCatalogCache(const CatalogCache& cache);
// DataLossError when `bytes` is not a whole catalog.cache of this version.
absl::StatusOr<CatalogCache> DecodeCatalogCache(absl::string_view bytes);

// An event type name that lives as long as the process (CatalogEntry::types
// holds these); a log has a few dozen.
absl::string_view InternTypeName(absl::string_view name);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_CATALOG_CACHE_H_
