// libFuzzer target: stats.cache as `tracelog stats` reads it, and the
// per-segment partials in it as SessionStatsBuilder::MergePartial decodes
// them (inputs after the '!' flag are taken as one partial, checksum-free).
// A bad file or partial is an error, never a crash; a partial that merges
// leaves a builder that finishes.

#include <string>

#include "engine/query/session_stats.h"
#include "engine/query/stats_cache.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  absl::string_view bytes = fuzz::Bytes(data, size);
  if (fuzz::TakeFixFlag(&bytes)) {
    SessionStatsBuilder b;
    if (b.MergePartial(bytes).ok()) {
      // What merged serializes to a partial that merges again.
      SessionStatsBuilder again;
      TRACELOG_FUZZ_CHECK(again.MergePartial(b.SerializePartial()).ok());
      b.UnpairedSessions();
      const SessionStats s = std::move(b).Finish();
      TRACELOG_FUZZ_CHECK(s.tools.size() < (1u << 20));
    }
    return 0;
  }
  auto entries = DecodeStatsCache(bytes);
  if (!entries.ok()) return 0;
  SessionStatsBuilder b;
  for (const auto& [base, e] : *entries) b.MergePartial(e.partial).IgnoreError();
  std::move(b).Finish();
  return 0;
}
