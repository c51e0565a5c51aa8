#include "engine/query/query.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/format/event_keys.h"
#include "engine/io/atomic_file.h"
#include "engine/query/catalog_cache.h"
#include "engine/query/segment_identity.h"
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

// Adds a segment's summary of a session (all but its type counts) to the
// session's catalog entry.
void MergeSummary(const SessionSummary& s, CatalogEntry* e) {
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
}

// One raw record as a session's summary of one event (its type counted
// apart).
SessionSummary RecordSummary(const RecordView& rec, const EventKeys& keys) {
  SessionSummary s;
  s.events = 1;
  s.has_timestamp = keys.has_timestamp;
  s.first_timestamp = s.last_timestamp = keys.timestamp;
  s.tool_calls = keys.event_type == "tool_call" ? 1 : 0;
  s.errors = keys.error ? 1 : 0;
  if (keys.event_type == "session_start") ExtractSessionStartInfo(rec.event, &s.agent, &s.parent);
  return s;
}

// The catalog as it is merged: per session its entry (without the type
// counts) and its counts by type, the types numbered once for the whole
// catalog (a std::map per session looked up per segment was most of the
// time of a catalog of 12k sessions).
class CatalogBuilder {
 public:
  explicit CatalogBuilder(size_t sessions) { entries_.reserve(sessions); }

  // Adds what a segment holds of a session; `types` maps the summary's type
  // ids (the segment's) to the catalog's (Type()).
  void Merge(absl::string_view id, const SessionSummary& s, const std::vector<uint32_t>& types,
             uint64_t base) {
    Pending& p = entries_[id];
    CatalogEntry* e = &p.entry;
    if (e->id.empty()) e->id = std::string(id);
    MergeSummary(s, e);
    for (const auto& [type, n] : s.types) Count(&p, types[type], n);
    if (e->segments.empty() || e->segments.back() != base) e->segments.push_back(base);
  }
  // One event of a raw segment.
  void Add(absl::string_view id, const SessionSummary& s, uint32_t type, uint64_t base) {
    Merge(id, s, {}, base);
    Count(&entries_[id], type, 1);
  }
  uint32_t Type(absl::string_view name) {
    auto [it, added] = type_ids_.try_emplace(name, static_cast<uint32_t>(type_names_.size()));
    if (added) type_names_.push_back(InternTypeName(name));
    return it->second;
  }
  // Starts from a catalog made before (catalog.cache).
  void Load(std::vector<CatalogEntry> entries) {
    for (CatalogEntry& e : entries) {
      Pending& p = entries_[e.id];
      for (const auto& [type, n] : e.types) Count(&p, Type(type), n);
      e.types.clear();
      p.entry = std::move(e);
    }
  }
  // Every session so far, sorted by id (the builder goes on).
  std::vector<CatalogEntry> Snapshot() const {
    std::vector<CatalogEntry> out;
    out.reserve(entries_.size());
    for (const Pending* p : Sorted()) out.push_back(WithTypes(*p));
    return out;
  }
  // Every session, sorted by id.
  std::vector<CatalogEntry> Finish() && {
    std::vector<CatalogEntry> out;
    out.reserve(entries_.size());
    for (Pending* p : Sorted()) {
      p->entry.types = WithTypes(*p, /*types_only=*/true).types;
      out.push_back(std::move(p->entry));
    }
    return out;
  }

 private:
  struct Pending {
    CatalogEntry entry;
    std::vector<uint64_t> counts;  // by catalog type number
  };
  std::vector<Pending*> Sorted() const {
    std::vector<Pending*> order;
    order.reserve(entries_.size());
    for (auto& [id, p] : entries_) order.push_back(const_cast<Pending*>(&p));
    std::sort(order.begin(), order.end(),
              [](const Pending* a, const Pending* b) { return a->entry.id < b->entry.id; });
    return order;
  }
  // The entry with its counts by type, in name order (`types_only`: the
  // counts alone, the rest left empty).
  CatalogEntry WithTypes(const Pending& p, bool types_only = false) const {
    CatalogEntry e;
    if (!types_only) e = p.entry;
    std::vector<std::pair<absl::string_view, uint64_t>> types;
    for (uint32_t t = 0; t < p.counts.size(); ++t) {
      if (p.counts[t] > 0) types.emplace_back(type_names_[t], p.counts[t]);
    }
    std::sort(types.begin(), types.end());
    e.types = std::move(types);
    return e;
  }
  static void Count(Pending* p, uint32_t type, uint64_t n) {
    if (type >= p->counts.size()) p->counts.resize(type + 1, 0);
    p->counts[type] += n;
  }

  absl::flat_hash_map<std::string, Pending> entries_;
  absl::flat_hash_map<std::string, uint32_t> type_ids_;
  std::vector<absl::string_view> type_names_;  // interned
};

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

uint64_t CatalogEntry::Count(absl::string_view type) const {
  for (const auto& [name, n] : types) {
    if (name == type) return n;
  }
  return 0;
}

namespace {

// The catalog read from catalog.cache (sorted by id), with what the
// segments after it hold merged in place: the cached entries are not
// rebuilt (that was most of a cached catalog's time).
class CatalogOnCache {
 public:
  explicit CatalogOnCache(std::vector<CatalogEntry> entries) : entries_(std::move(entries)) {}

  void Merge(absl::string_view id, const SessionSummary& s,
             const std::vector<absl::string_view>& type_names, uint64_t base) {
    CatalogEntry* e = Find(id);
    MergeSummary(s, e);
    for (const auto& [type, n] : s.types) AddType(e, type_names[type], n);
    if (e->segments.empty() || e->segments.back() != base) e->segments.push_back(base);
  }
  // One event of a raw segment; `type` interned.
  void Add(absl::string_view id, const SessionSummary& s, absl::string_view type, uint64_t base) {
    Merge(id, s, {}, base);
    AddType(Find(id), type, 1);
  }
  std::vector<CatalogEntry> Finish() && {
    if (added_.empty()) return std::move(entries_);
    for (CatalogEntry& e : added_) entries_.push_back(std::move(e));
    std::sort(entries_.begin(), entries_.end(),
              [](const CatalogEntry& a, const CatalogEntry& b) { return a.id < b.id; });
    return std::move(entries_);
  }

 private:
  CatalogEntry* Find(absl::string_view id) {
    if (positions_.empty()) {  // built at the first merge, over ids that never move
      positions_.reserve(entries_.size());
      for (size_t i = 0; i < entries_.size(); ++i) positions_[entries_[i].id] = i;
    }
    if (auto it = positions_.find(id); it != positions_.end()) return &entries_[it->second];
    auto [it, added] = added_at_.try_emplace(std::string(id), added_.size());
    if (added) {
      added_.emplace_back();
      added_.back().id = std::string(id);
    }
    return &added_[it->second];
  }
  // `type` is interned: names compare by address.
  static void AddType(CatalogEntry* e, absl::string_view type, uint64_t n) {
    for (auto& [name, count] : e->types) {
      if (name.data() == type.data()) {
        count += n;
        return;
      }
    }
    auto at = std::lower_bound(e->types.begin(), e->types.end(), type,
                               [](const auto& a, absl::string_view t) { return a.first < t; });
    e->types.insert(at, {type, n});
  }

  std::vector<CatalogEntry> entries_;  // never reallocated: positions_ views their ids
  absl::flat_hash_map<absl::string_view, size_t> positions_;
  std::vector<CatalogEntry> added_;
  absl::flat_hash_map<std::string, size_t> added_at_;
};

// The cached catalog of segments[0, covered) with the later segments'
// sessions merged in (none of them is cached anew: the cache is rewritten
// by a catalog made without it, when its segments no longer match).
std::vector<CatalogEntry> CatalogAfterCache(
    const std::vector<SegmentSnapshot>& segments, size_t covered, std::vector<CatalogEntry> cached,
    const std::vector<std::shared_ptr<const SegmentIndex>>& indexes,
    const CorruptionReporter& reporter) {
  CatalogOnCache catalog(std::move(cached));
  std::vector<absl::string_view> type_names;
  for (size_t i = covered; i < segments.size(); ++i) {
    const SegmentSnapshot& seg = segments[i];
    if (seg.sealed != nullptr) {
      if (indexes[i] == nullptr) continue;
      const SegmentIndex& idx = *indexes[i];
      type_names.clear();
      for (const std::string& t : idx.types) type_names.push_back(InternTypeName(t));
      for (const SessionSummary& s : idx.sessions) catalog.Merge(s.id, s, type_names, seg.base);
      continue;
    }
    SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                           seg.base, SegmentScanner::Mode::kSkipDamage, reporter, RawBounds(seg));
    RecordView rec;
    EventKeys keys;
    std::vector<absl::string_view> seen;  // interned names met in this segment
    auto intern = [&](absl::string_view name) {
      for (absl::string_view kept : seen) {
        if (kept == name) return kept;
      }
      seen.push_back(InternTypeName(name));
      return seen.back();
    };
    while (scanner.Next(&rec)) {
      if (rec.sequence > seg.last_sequence) break;
      if (!KeysOf(rec, &keys)) continue;
      const SessionSummary s = RecordSummary(rec, keys);
      catalog.Add(keys.session_id, s, intern(keys.event_type), seg.base);
    }
  }
  return std::move(catalog).Finish();
}

}  // namespace

absl::StatusOr<std::vector<CatalogEntry>> QueryEngine::Catalog(const CorruptionReporter& reporter) {
  const std::vector<SegmentSnapshot> segments = log_->SnapshotSegments(reporter);
  // The segments whose events can no longer change, from the first: what
  // catalog.cache may cover.
  std::vector<SegmentKey> keys;
  for (size_t i = 0; i < segments.size(); ++i) {
    SegmentKey k;
    if (!KeyOf(segments[i], i + 1 == segments.size(), &k)) break;
    keys.push_back(k);
  }
  FileSystem* fs = log_->file_system();
  const std::string path = absl::StrCat(log_->dir(), "/", kCatalogCacheFileName);
  size_t covered = 0;  // segments the cache read gave
  std::optional<CatalogCache> cached;
  if (fs != nullptr && !keys.empty()) {
    if (auto bytes = ReadWholeFile(fs, path); bytes.ok()) {
      auto decoded = DecodeCatalogCache(*bytes);
      if (decoded.ok() && decoded->segments.size() <= keys.size() &&
          std::equal(decoded->segments.begin(), decoded->segments.end(), keys.begin())) {
        cached = std::move(*decoded);
      }
    }
  }
  // The sealed segments' indexes first, to size the table.
  // (The index alone: a query's lookup tables, Info(), are not needed.)
  if (cached) covered = cached->segments.size();
  std::vector<std::shared_ptr<const SegmentIndex>> indexes(segments.size());
  size_t summaries = cached ? cached->entries.size() : 0;
  uint64_t damage = 0;  // in the segments the cache may cover
  const CorruptionReporter count = [&](const Corruption& c) {
    ++damage;
    if (reporter) reporter(c);
  };
  for (size_t i = covered; i < segments.size(); ++i) {
    const SegmentSnapshot& seg = segments[i];
    if (seg.sealed == nullptr) continue;
    auto index = seg.sealed->Index(&LocalCodec(), /*with_sessions=*/true);
    if (!index.ok()) {
      count(Corruption{seg.sealed->path(), 0, 0, std::string(index.status().message())});
      continue;
    }
    indexes[i] = *index;
    summaries += (*index)->sessions.size();
  }
  // A cache of every segment that can be cached: merge the rest in place.
  // (A shorter one is extended below, through the builder, and rewritten.)
  if (cached && covered == keys.size()) {
    return CatalogAfterCache(segments, covered, std::move(cached->entries), indexes, reporter);
  }
  CatalogBuilder catalog(summaries);
  if (cached) catalog.Load(std::move(cached->entries));  // the first `covered` segments
  std::vector<uint32_t> types;
  for (size_t i = covered; i < segments.size(); ++i) {
    const SegmentSnapshot& seg = segments[i];
    if (seg.sealed != nullptr) {
      if (indexes[i] != nullptr) {
        const SegmentIndex& idx = *indexes[i];
        types.clear();
        for (const std::string& t : idx.types) types.push_back(catalog.Type(t));
        for (const SessionSummary& s : idx.sessions) catalog.Merge(s.id, s, types, seg.base);
      }
    } else {
      SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                             seg.base, SegmentScanner::Mode::kSkipDamage,
                             i < keys.size() ? count : reporter, RawBounds(seg));
      RecordView rec;
      EventKeys keys_of;
      while (scanner.Next(&rec)) {
        if (rec.sequence > seg.last_sequence) break;
        if (!KeysOf(rec, &keys_of)) continue;
        const SessionSummary s = RecordSummary(rec, keys_of);
        catalog.Add(keys_of.session_id, s, catalog.Type(keys_of.event_type), seg.base);
      }
    }
    // Once every segment the cache may cover is in, and more than it held,
    // undamaged: keep them for the next catalog (best effort).
    if (i + 1 == keys.size() && keys.size() > covered && damage == 0 && fs != nullptr) {
      CatalogCache fresh;
      fresh.segments = keys;
      fresh.entries = catalog.Snapshot();
      WriteFileAtomically(fs, log_->dir(), path, EncodeCatalogCache(fresh), /*sync_dir=*/false)
          .IgnoreError();
    }
  }
  return std::move(catalog).Finish();
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
