#include "engine/seal/index_builder.h"

#include <simdjson.h>

#include <algorithm>
#include <tuple>

namespace tracelog {

void ExtractSessionStartInfo(absl::string_view event, std::string* agent, std::string* parent) {
  agent->clear();
  parent->clear();
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(event.data(), event.size()).get(root) != simdjson::SUCCESS) return;
  std::string_view s;
  if (root["data"]["agent_name"].get_string().get(s) == simdjson::SUCCESS) agent->assign(s);
  if (root["parent_session_id"].get_string().get(s) == simdjson::SUCCESS ||
      root["data"]["parent_session_id"].get_string().get(s) == simdjson::SUCCESS) {
    parent->assign(s);
  }
}

namespace {
// Extends the range [*lo, *hi] (empty while !*has) to hold t.
void Widen(double t, bool* has, double* lo, double* hi) {
  if (!*has) {
    *lo = *hi = t;
    *has = true;
  }
  *lo = std::min(*lo, t);
  *hi = std::max(*hi, t);
}
}  // namespace

IndexBuilder::IndexBuilder(uint64_t base_sequence) {
  index_.base_sequence = base_sequence;
  index_.last_sequence = base_sequence - 1;
}

uint32_t IndexBuilder::Lookup(absl::string_view s, uint32_t next_id, Ids* ids, bool* inserted) {
  *inserted = false;
  if (ids->last_id != UINT32_MAX && s == ids->last) return ids->last_id;
  auto [it, added] = ids->map.try_emplace(s, next_id);
  *inserted = added;
  ids->last.assign(s.data(), s.size());
  ids->last_id = it->second;
  return it->second;
}

uint32_t IndexBuilder::Intern(absl::string_view s, std::vector<std::string>* names, Ids* ids) {
  bool inserted = false;
  const uint32_t id = Lookup(s, static_cast<uint32_t>(names->size()), ids, &inserted);
  if (inserted) names->emplace_back(s);
  return id;
}

void IndexBuilder::Bump(IdCounts* counts, uint32_t id) {
  for (auto& [i, n] : *counts) {
    if (i == id) {
      ++n;
      return;
    }
  }
  counts->emplace_back(id, 1);
}

void IndexBuilder::Add(uint64_t sequence, const EventKeys& keys, absl::string_view event) {
  bool inserted = false;
  const uint32_t session = Lookup(keys.session_id, static_cast<uint32_t>(index_.sessions.size()),
                                  &session_ids_, &inserted);
  if (inserted) {
    index_.sessions.emplace_back();
    index_.sessions.back().id = std::string(keys.session_id);
  }
  SessionSummary& s = index_.sessions[session];
  const uint32_t type = Intern(keys.event_type, &index_.types, &type_ids_);
  if (keys.event_type == "tool_call") type_tool_call_ = type;

  ++s.events;
  Bump(&s.types, type);
  if (type == type_tool_call_) ++s.tool_calls;
  if (keys.error) ++s.errors;
  if (keys.has_timestamp) {
    Widen(keys.timestamp, &s.has_timestamp, &s.first_timestamp, &s.last_timestamp);
  }
  if (keys.event_type == "session_start" && s.agent.empty()) {
    ExtractSessionStartInfo(event, &s.agent, &s.parent);
  }

  BlockSummary& b = block_;
  if (b.count == 0) {
    b.min_sequence = b.max_sequence = sequence;
  }
  b.min_sequence = std::min(b.min_sequence, sequence);
  b.max_sequence = std::max(b.max_sequence, sequence);
  ++b.count;
  if (b.sessions.empty() || b.sessions.back().first != session) {
    b.sessions.emplace_back(session, 0);
  }
  ++b.sessions.back().second;
  const uint32_t tool =
      keys.tool_name.empty() ? 0 : 1 + Intern(keys.tool_name, &index_.tools, &tool_ids_);
  bool found = false;
  for (BlockCombo& c : b.combos) {
    if (c.type == type && c.tool == tool && c.error == keys.error) {
      ++c.count;
      found = true;
      break;
    }
  }
  if (!found) b.combos.push_back(BlockCombo{type, tool, keys.error, 1});
  if (keys.has_timestamp) {
    Widen(keys.timestamp, &b.has_timestamp, &b.min_timestamp, &b.max_timestamp);
  }
  ++index_.event_count;
  index_.last_sequence = std::max(index_.last_sequence, sequence);
}

void IndexBuilder::EndBlock(uint64_t offset, uint32_t compressed_size, uint32_t raw_size) {
  block_.offset = offset;
  block_.compressed_size = compressed_size;
  block_.raw_size = raw_size;
  std::sort(block_.combos.begin(), block_.combos.end(),
            [](const BlockCombo& a, const BlockCombo& b) {
              return std::tie(a.type, a.tool, a.error) < std::tie(b.type, b.tool, b.error);
            });
  index_.blocks.push_back(std::move(block_));
  block_ = BlockSummary();
}

SegmentIndex IndexBuilder::Finish(uint64_t sealed_size) {
  for (SessionSummary& s : index_.sessions) std::sort(s.types.begin(), s.types.end());
  index_.sealed_size = sealed_size;
  return std::move(index_);
}

}  // namespace tracelog
