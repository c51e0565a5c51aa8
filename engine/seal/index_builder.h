#ifndef TRACELOG_ENGINE_SEAL_INDEX_BUILDER_H_
#define TRACELOG_ENGINE_SEAL_INDEX_BUILDER_H_

// Accumulates the index (engine/format/sealed_format.h: SegmentIndex) of a
// sealed segment while its blocks are written, or rebuilt from them.

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"

namespace tracelog {

// What the catalog takes from a session_start event: data.agent_name, and
// parent_session_id (top level, else in data). Empty when absent.
void ExtractSessionStartInfo(absl::string_view event, std::string* agent, std::string* parent);

class IndexBuilder {
 public:
  explicit IndexBuilder(uint64_t base_sequence);

  // Adds the next event of the current block, in sealed order.
  void Add(uint64_t sequence, const EventKeys& keys, absl::string_view event);
  // Ends the current block, stored at `offset` in the sealed file.
  void EndBlock(uint64_t offset, uint32_t compressed_size, uint32_t raw_size);
  SegmentIndex Finish(uint64_t sealed_size);

 private:
  // A name's id, and the last name looked up: in sealed order the next
  // event mostly has the same session, type and tool, and comparing with
  // the last one costs less than hashing (bench/RESULTS.md).
  struct Ids {
    absl::flat_hash_map<std::string, uint32_t> map;
    std::string last;
    uint32_t last_id = UINT32_MAX;
  };
  // The id of `s` in `ids` (new ones get the next id; *inserted says so).
  static uint32_t Lookup(absl::string_view s, uint32_t next_id, Ids* ids, bool* inserted);
  static uint32_t Intern(absl::string_view s, std::vector<std::string>* names, Ids* ids);
  static void Bump(IdCounts* counts, uint32_t id);

  SegmentIndex index_;
  Ids session_ids_, type_ids_, tool_ids_;
  BlockSummary block_;
  uint32_t type_tool_call_ = UINT32_MAX;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEAL_INDEX_BUILDER_H_
