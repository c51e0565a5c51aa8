#include "engine/query/query.h"

#include <algorithm>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/format/event_keys.h"
#include "engine/query/query_internal.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_scanner.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/index_builder.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

namespace {

using query_internal::KeysOf;
using query_internal::LocalCodec;
using query_internal::RawBounds;

// Adds what a segment holds of a session to its catalog entry.
void Merge(CatalogEntry* e, const SessionSummary& s, const std::vector<std::string>& types,
           uint64_t base) {
  if (e->agent.empty()) e->agent = s.agent;
  if (e->parent.empty()) e->parent = s.parent;
  if (s.has_timestamp) {
    e->first_timestamp = e->has_timestamp ? std::min(e->first_timestamp, s.first_timestamp)
                                          : s.first_timestamp;
    e->last_timestamp = e->has_timestamp ? std::max(e->last_timestamp, s.last_timestamp)
                                         : s.last_timestamp;
    e->has_timestamp = true;
  }
  e->events += s.events;
  e->tool_calls += s.tool_calls;
  e->errors += s.errors;
  for (const auto& [id, n] : s.types) e->types[types[id]] += n;
  if (e->segments.empty() || e->segments.back() != base) e->segments.push_back(base);
}

int DefaultThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores, 1u, 4u));
}

}  // namespace

QueryEngine::QueryEngine(Log* log, int threads)
    : log_(log),
      workers_(std::make_unique<WorkerPool>(threads > 0 ? threads : DefaultThreads())),
      blocks_(std::make_unique<StringPool>()),
      chunks_(std::make_unique<StringPool>()) {}
QueryEngine::~QueryEngine() = default;

absl::StatusOr<std::shared_ptr<QueryEngine::SegmentInfo>> QueryEngine::Info(
    const SegmentSnapshot& seg, bool sessions) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = infos_.find(seg.sealed.get());
        it != infos_.end() && (it->second->has_sessions || !sessions)) {
      return it->second;
    }
  }
  // Decoded without the lock, so several segments' indexes load at once.
  auto index = seg.sealed->Index(&LocalCodec(), sessions);
  if (!index.ok()) return index.status();
  auto info = std::make_shared<SegmentInfo>();
  info->segment = seg.sealed;
  info->index = *index;
  const SegmentIndex& idx = **index;
  info->has_sessions = sessions || !idx.sessions.empty();
  info->session_ids.reserve(idx.sessions.size());
  for (uint32_t i = 0; i < idx.sessions.size(); ++i) info->session_ids[idx.sessions[i].id] = i;
  for (uint32_t i = 0; i < idx.types.size(); ++i) info->type_ids[idx.types[i]] = i;
  for (uint32_t i = 0; i < idx.tools.size(); ++i) info->tool_ids[idx.tools[i]] = i;
  info->session_blocks.resize(idx.sessions.size());
  if (info->has_sessions) {
    for (uint32_t b = 0; b < idx.blocks.size(); ++b) {
      for (const auto& [s, n] : idx.blocks[b].sessions) info->session_blocks[s].push_back(b);
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<SegmentInfo>& slot = infos_[seg.sealed.get()];
  if (slot == nullptr || (!slot->has_sessions && info->has_sessions)) slot = info;
  return slot;
}

bool QueryEngine::Cached(const SegmentSnapshot& seg) {
  std::lock_guard<std::mutex> l(mu_);
  return infos_.contains(seg.sealed.get());
}

absl::StatusOr<QueryEngine::Plan> QueryEngine::MakePlan(const Query& query) {
  Plan plan;
  plan.sessions = query.sessions;
  if (query.agents.empty()) return plan;
  auto catalog = Catalog();
  if (!catalog.ok()) return catalog.status();
  std::vector<std::string> of_agents;
  for (const CatalogEntry& e : *catalog) {
    if (std::find(query.agents.begin(), query.agents.end(), e.agent) != query.agents.end()) {
      of_agents.push_back(e.id);
    }
  }
  if (!query.sessions.empty()) {
    // Both filters: the sessions that pass both.
    std::vector<std::string> both;
    for (const std::string& s : query.sessions) {
      if (std::find(of_agents.begin(), of_agents.end(), s) != of_agents.end()) both.push_back(s);
    }
    of_agents.swap(both);
  }
  plan.sessions = std::move(of_agents);
  plan.impossible = plan.sessions.empty();
  return plan;
}

absl::StatusOr<uint64_t> QueryEngine::Run(const Query& query, const EventFn& fn,
                                          QueryStats* stats, const CorruptionReporter& reporter) {
  uint64_t delivered = 0;
  bool stopped = false;
  const BatchFn batch = [&](absl::Span<const BlockEvent> events) {
    for (const BlockEvent& e : events) {
      ++delivered;
      if (!fn(e.sequence, e.event)) {
        stopped = true;
        return false;
      }
    }
    return true;
  };
  auto n = Execute(query, &batch, stats, reporter);
  if (!n.ok()) return n;
  return stopped ? delivered : *n;
}

absl::StatusOr<uint64_t> QueryEngine::RunBatches(const Query& query, const BatchFn& fn,
                                                 QueryStats* stats,
                                                 const CorruptionReporter& reporter) {
  return Execute(query, &fn, stats, reporter);
}

absl::StatusOr<uint64_t> QueryEngine::Count(const Query& query, QueryStats* stats,
                                            const CorruptionReporter& reporter) {
  return Execute(query, nullptr, stats, reporter);
}

void QueryEngine::ForgetGoneSegments(const std::vector<SegmentSnapshot>& segments) {
  std::lock_guard<std::mutex> l(mu_);
  if (infos_.size() <= segments.size()) return;
  absl::flat_hash_set<const void*> live;
  for (const SegmentSnapshot& s : segments) live.insert(s.sealed.get());
  for (auto it = infos_.begin(); it != infos_.end();) {
    if (!live.contains(it->first)) {
      infos_.erase(it++);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<std::vector<CatalogEntry>> QueryEngine::Catalog(const CorruptionReporter& reporter) {
  absl::flat_hash_map<std::string, CatalogEntry> entries;
  for (const SegmentSnapshot& seg : log_->SnapshotSegments(reporter)) {
    if (seg.sealed != nullptr) {
      auto info = Info(seg);
      if (!info.ok()) {
        if (reporter) reporter(Corruption{seg.sealed->path(), 0, 0, std::string(info.status().message())});
        continue;
      }
      const SegmentIndex& idx = *(*info)->index;
      for (const SessionSummary& s : idx.sessions) {
        CatalogEntry& e = entries[s.id];
        e.id = s.id;
        Merge(&e, s, idx.types, seg.base);
      }
      continue;
    }
    SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                           seg.base, SegmentScanner::Mode::kSkipDamage, reporter, RawBounds(seg));
    RecordView rec;
    EventKeys keys;
    while (scanner.Next(&rec)) {
      if (rec.sequence > seg.last_sequence) break;
      if (!KeysOf(rec, &keys)) continue;
      SessionSummary s;
      s.events = 1;
      s.has_timestamp = keys.has_timestamp;
      s.first_timestamp = s.last_timestamp = keys.timestamp;
      s.tool_calls = keys.event_type == "tool_call" ? 1 : 0;
      s.errors = keys.error ? 1 : 0;
      if (keys.event_type == "session_start") ExtractSessionStartInfo(rec.event, &s.agent, &s.parent);
      CatalogEntry& e = entries[keys.session_id];
      e.id = std::string(keys.session_id);
      ++e.types[std::string(keys.event_type)];
      Merge(&e, s, {}, seg.base);
    }
  }
  std::vector<CatalogEntry> out;
  out.reserve(entries.size());
  for (auto& [id, e] : entries) out.push_back(std::move(e));
  std::sort(out.begin(), out.end(),
            [](const CatalogEntry& a, const CatalogEntry& b) { return a.id < b.id; });
  return out;
}

absl::StatusOr<std::string> QueryEngine::ResolveSession(absl::string_view id) {
  // An exact id is found through the indexes' hash tables (and a scan of the
  // raw segments); a prefix needs the whole catalog.
  for (const SegmentSnapshot& seg : log_->SnapshotSegments()) {
    if (seg.sealed != nullptr) {
      if (!Cached(seg)) {
        if (auto dir = seg.sealed->LookupSession(SessionHash(id)); dir.ok()) {
          if (!dir->entries.empty()) return std::string(id);
          continue;
        }
      }
      auto info = Info(seg);
      if (info.ok() && (*info)->session_ids.contains(id)) return std::string(id);
      continue;
    }
    SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                           seg.base, SegmentScanner::Mode::kSkipDamage, nullptr, RawBounds(seg));
    RecordView rec;
    EventKeys keys;
    while (scanner.Next(&rec)) {
      if (rec.sequence <= seg.last_sequence && KeysOf(rec, &keys) && keys.session_id == id) {
        return std::string(id);
      }
    }
  }
  auto catalog = Catalog();
  if (!catalog.ok()) return catalog.status();
  std::vector<std::string> candidates;
  for (const CatalogEntry& e : *catalog) {
    if (absl::StartsWith(e.id, id)) candidates.push_back(e.id);
  }
  if (candidates.empty()) {
    return absl::NotFoundError(absl::StrCat("no session ", id, " in the log"));
  }
  if (candidates.size() > 1) {
    if (candidates.size() > 5) {
      candidates.resize(5);
      candidates.push_back("...");
    }
    return absl::InvalidArgumentError(absl::StrCat("session prefix ", id, " is ambiguous: ",
                                                   absl::StrJoin(candidates, ", ")));
  }
  return candidates[0];
}

}  // namespace tracelog
