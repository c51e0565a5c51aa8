#ifndef TRACELOG_ENGINE_REDACT_HYPERSCAN_DB_H_
#define TRACELOG_ENGINE_REDACT_HYPERSCAN_DB_H_

// The redactor's Hyperscan databases (redactor.cc): compiled, or loaded
// from what an earlier process compiled (RedactOptions::compiled,
// DIR/redact.cache), and scanned.

#include <hs/hs.h>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog::redact {

// Hyperscan patterns with their flags; a database's ids are their indexes.
using HsPatterns = std::vector<std::pair<std::string, unsigned>>;

// What a Hyperscan database found in a text.
struct Hits {
  uint64_t ids = 0;  // the patterns that match, as bits (all if the scan failed)
  // Where their matches end (pattern, offset), up to kMaxEnds.
  std::vector<std::pair<unsigned, size_t>> ends;
  bool all_ends = true;  // `ends` holds every match
};
constexpr size_t kMaxEnds = 4096;

// Hyperscan's AVX-512 scanners may load a few bytes past the end of the
// text (fuzz_redact met a read into an unmapped page right after a buffer,
// under ASan): a text is scanned where this many bytes after it may be read.
constexpr size_t kScanSlack = 64;
static_assert(simdjson::SIMDJSON_PADDING >= kScanSlack);

// The database of `patterns`: loaded from `compiled` if it holds one that
// fits (these patterns, this Hyperscan, this CPU), else compiled
// (InvalidArgumentError naming a pattern that does not compile). *key: its
// key in `compiled`; *loaded: whether it was loaded.
absl::StatusOr<hs_database_t*> LoadOrCompile(const HsPatterns& patterns, bool first_match_only,
                                             absl::string_view compiled, uint64_t* key,
                                             bool* loaded);

// Appends `db` to *out as the record of `key`; SealCompiled ends the
// records with their checksum (what LoadOrCompile reads).
void AppendCompiled(const hs_database_t* db, uint64_t key, std::string* out);
void SealCompiled(std::string* out);

// `text`'s matches in `db`. With `first_only`, the scan stops at the first
// (only `ids` is then meaningful). With `slack`, kScanSlack bytes after
// `text` may be read; else the text is copied first.
Hits Matching(const hs_database_t* db, absl::string_view text, bool first_only = false,
              bool slack = false);

}  // namespace tracelog::redact

#endif  // TRACELOG_ENGINE_REDACT_HYPERSCAN_DB_H_
