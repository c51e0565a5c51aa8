#include "engine/query/query.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/format/event_keys.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_scanner.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/index_builder.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

struct QueryEngine::SegmentInfo {
  bool has_sessions = false;  // session_ids and session_blocks are filled
  std::shared_ptr<SealedSegment> segment;
  std::shared_ptr<const SegmentIndex> index;
  absl::flat_hash_map<std::string, uint32_t> session_ids, type_ids, tool_ids;
  std::vector<std::vector<uint32_t>> session_blocks;  // by session ordinal
};

// The query with agents resolved to sessions.
struct QueryEngine::Plan {
  bool impossible = false;  // an agent filter that names no session
  std::vector<std::string> sessions;
};

// Buffers reused across queries and threads: a fresh 128 KiB string is a
// fresh mmap (glibc's threshold) that page-faults and is zero-filled.
class QueryEngine::StringPool {
 public:
  std::unique_ptr<std::string> Take() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty()) return std::make_unique<std::string>();
    auto b = std::move(free_.back());
    free_.pop_back();
    kept_ -= b->capacity();
    return b;
  }
  void Give(std::unique_ptr<std::string> b) {
    std::lock_guard<std::mutex> l(mu_);
    if (b == nullptr || kept_ + b->capacity() > kMaxKept) return;
    kept_ += b->capacity();
    free_.push_back(std::move(b));
  }

 private:
  static constexpr uint64_t kMaxKept = 64 << 20;
  std::mutex mu_;
  std::vector<std::unique_ptr<std::string>> free_;
  uint64_t kept_ = 0;
};

namespace {

// Where a raw segment's records must end (SegmentScanner::Bounds).
SegmentScanner::Bounds RawBounds(const SegmentSnapshot& seg) {
  SegmentScanner::Bounds b;
  b.last_sequence = seg.end_sequence;
  b.limit_is_data_end = seg.limit_is_data_end;
  return b;
}


using StringPool = QueryEngine::StringPool;

// The filters, as an event's keys are tested against them.
struct Filters {
  explicit Filters(const Query& q, const std::vector<std::string>& sessions)
      : query(q), session_set(sessions.begin(), sessions.end()) {}
  const Query& query;
  absl::flat_hash_set<absl::string_view> session_set;
  bool by_session() const { return !session_set.empty(); }
  // Whether keys beyond the session are needed to decide.
  bool needs_keys() const {
    return !query.types.empty() || !query.tools.empty() || query.error || query.since ||
           query.until;
  }
  bool Matches(const EventKeys& k, bool check_session) const {
    if (check_session && by_session() && !session_set.contains(k.session_id)) return false;
    if (!query.types.empty() &&
        std::find(query.types.begin(), query.types.end(), k.event_type) == query.types.end()) {
      return false;
    }
    if (!query.tools.empty() &&
        std::find(query.tools.begin(), query.tools.end(), k.tool_name) == query.tools.end()) {
      return false;
    }
    if (query.error && !k.error) return false;
    if (query.since && (!k.has_timestamp || k.timestamp < *query.since)) return false;
    if (query.until && (!k.has_timestamp || k.timestamp >= *query.until)) return false;
    return true;
  }
};

// Resolves names to the ids of one segment's tables; the absent ones drop.
std::vector<uint32_t> Ids(const std::vector<std::string>& names,
                          const absl::flat_hash_map<std::string, uint32_t>& ids) {
  std::vector<uint32_t> out;
  for (const std::string& n : names) {
    if (auto it = ids.find(n); it != ids.end()) out.push_back(it->second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Events of block `b` that pass the type, tool and error filters (an empty
// list: no filter).
uint64_t ComboCount(const BlockSummary& b, const Query& q, const std::vector<uint32_t>& types,
                    const std::vector<uint32_t>& tools) {
  uint64_t n = 0;
  for (const BlockCombo& c : b.combos) {
    if (!q.types.empty() && !std::binary_search(types.begin(), types.end(), c.type)) continue;
    if (!q.tools.empty() &&
        (c.tool == 0 || !std::binary_search(tools.begin(), tools.end(), c.tool - 1))) {
      continue;
    }
    if (q.error && !c.error) continue;
    n += c.count;
  }
  return n;
}

bool KeysOf(const RecordView& rec, EventKeys* keys) {
  *keys = EventKeys();
  if (!DecodeKeys(rec.keys, keys)) return false;
  keys->timestamp = rec.timestamp;
  keys->has_timestamp = (rec.flags & kFlagHasTimestamp) != 0;
  keys->error = (rec.flags & kFlagError) != 0;
  return true;
}

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

// Per thread, kept across queries: a fresh zstd context and JSON parser
// each time cost page faults on their new buffers.
BlockCodec& LocalCodec() {
  thread_local BlockCodec codec;
  return codec;
}
EventKeyExtractor& LocalExtractor() {
  thread_local EventKeyExtractor extractor;
  return extractor;
}

// Copies of matching events, in chunks that never move, so the block
// buffers go back to the pool as soon as a block is done.
class Arena {
 public:
  explicit Arena(StringPool* pool) : pool_(pool) {}
  ~Arena() {
    for (auto& c : chunks_) pool_->Give(std::move(c));
  }
  absl::string_view Keep(absl::string_view e) {
    if (chunks_.empty() || chunks_.back()->capacity() - chunks_.back()->size() < e.size()) {
      auto c = pool_->Take();
      c->clear();
      c->reserve(std::max<size_t>(kChunk, e.size()));
      chunks_.push_back(std::move(c));
    }
    std::string& c = *chunks_.back();
    const size_t at = c.size();
    c.append(e.data(), e.size());  // within capacity: earlier views stay valid
    return absl::string_view(c.data() + at, e.size());
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  StringPool* const pool_;
  std::vector<std::unique_ptr<std::string>> chunks_;
};

}  // namespace

namespace {
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

absl::StatusOr<uint64_t> QueryEngine::Execute(const Query& query, const BatchFn* fn,
                                              QueryStats* stats_out,
                                              const CorruptionReporter& reporter) {
  QueryStats local;
  QueryStats& stats = stats_out != nullptr ? *stats_out : local;
  stats = QueryStats();
  auto plan = MakePlan(query);
  if (!plan.ok()) return plan.status();
  if (plan->impossible) return 0;
  const Filters filters(query, plan->sessions);
  const bool by_time = query.since.has_value() || query.until.has_value();
  const double since = query.since.value_or(-INFINITY);
  const double until = query.until.value_or(INFINITY);
  // A count needs no block when the index has the exact number: for the
  // sessions alone, or for any mix of type, tool and error filters.
  const bool by_combo = !query.types.empty() || !query.tools.empty() || query.error;
  const bool countable = !by_time && !(filters.by_session() && by_combo);
  const uint64_t limit = query.limit == 0 ? UINT64_MAX : query.limit;
  uint64_t matched = 0;
  bool stopped = false;
  // Matches wait here (views into blocks, arenas or raw segments that stay
  // alive until flush()) and go to `fn` in runs.
  std::vector<BlockEvent> pending;
  auto flush = [&] {
    if (fn != nullptr && !pending.empty() && !(*fn)(absl::MakeConstSpan(pending))) stopped = true;
    pending.clear();
  };
  auto deliver = [&](uint64_t seq, absl::string_view event) {
    ++matched;
    if (fn != nullptr) {
      pending.push_back(BlockEvent{seq, event});
      if (pending.size() >= 4096) flush();
    }
    if (matched >= limit) stopped = true;
  };
  auto count_reporter = [&](const Corruption& c) {
    ++stats.corruptions;
    if (reporter) reporter(c);
  };

  // What one worker found in the blocks it read: copies of the matches.
  struct Found {
    Found(StringPool* chunks, StringPool* blocks) : arena(chunks), block_pool(blocks) {}
    ~Found() {
      for (auto& b : kept) block_pool->Give(std::move(b));
    }
    Arena arena;
    StringPool* block_pool;
    std::vector<std::unique_ptr<std::string>> kept;  // blocks whose events are matches as they are
    std::vector<BlockEvent> matches;
    std::vector<BlockEvent> events;  // of the block being read
    std::vector<BlockEvent> hits;    // its matches, views into it
    std::vector<Corruption> damage;
    uint64_t blocks_read = 0;
  };
  std::vector<std::unique_ptr<Found>> found;
  auto fresh_found = [&] {
    found.clear();
    for (int w = 0; w < workers_->size(); ++w) {
      found.push_back(std::make_unique<Found>(chunks_.get(), blocks_.get()));
    }
  };
  // Decompresses a block into a pooled buffer and passes its events to
  // `take`, which puts the matching ones in f.hits; damage is noted for
  // later. A block of which at least half the events match is kept as it
  // is until the segment is delivered (no copy); from the others the
  // matches are copied, so the buffer goes back to the pool at once.
  auto read_block = [&](const SealedSegment& sealed, uint64_t offset, Found& f,
                        const std::function<void(const std::vector<BlockEvent>&)>& take) {
    auto raw = blocks_->Take();
    f.hits.clear();
    if (auto s = sealed.ReadBlock(offset, &LocalCodec(), raw.get(), &f.events); !s.ok()) {
      f.damage.push_back(Corruption{sealed.path(), offset, sealed.NextBlock(offset),
                                    std::string(s.message())});
      f.events.clear();
    } else {
      ++f.blocks_read;
      take(f.events);
    }
    if (!f.hits.empty() && 2 * f.hits.size() >= f.events.size()) {
      f.matches.insert(f.matches.end(), f.hits.begin(), f.hits.end());
      f.kept.push_back(std::move(raw));
      return;
    }
    for (const BlockEvent& e : f.hits) f.matches.push_back(BlockEvent{e.sequence, f.arena.Keep(e.event)});
    blocks_->Give(std::move(raw));
  };
  // Everything the workers found in one segment, in sequence order.
  auto deliver_found = [&] {
    std::vector<BlockEvent> all;
    std::vector<Corruption> damage;
    for (auto& f : found) {
      stats.blocks_read += f->blocks_read;
      all.insert(all.end(), f->matches.begin(), f->matches.end());
      damage.insert(damage.end(), f->damage.begin(), f->damage.end());
    }
    std::sort(damage.begin(), damage.end(),
              [](const Corruption& a, const Corruption& b) { return a.begin < b.begin; });
    for (const Corruption& c : damage) count_reporter(c);
    std::sort(all.begin(), all.end(),
              [](const BlockEvent& a, const BlockEvent& b) { return a.sequence < b.sequence; });
    for (const BlockEvent& e : all) {
      if (stopped) break;
      deliver(e.sequence, e.event);
    }
    flush();
    found.clear();  // the arenas and kept blocks go back to the pool
  };
  // Whether an event (a view into a block read by ReadBlock, so parsable in
  // place) passes the filters.
  auto passes = [&](absl::string_view event, bool check_session) {
    EventKeys keys;
    return LocalExtractor().Extract(event, &keys, /*validate=*/false, kExtractPadding).ok() &&
           filters.Matches(keys, check_session);
  };

  std::vector<SegmentSnapshot> segments = log_->SnapshotSegments(count_reporter);
  // Segments a one-shot window query skips by the time range in their
  // index's directory, without loading the index.
  std::vector<char> outside(segments.size(), 0);
  auto outside_window = [&](const SegmentSnapshot& seg) {
    if (!by_time || Cached(seg)) return false;
    auto dir = seg.sealed->DirectoryHeader();
    return dir.ok() &&
           (!dir->has_timestamp || dir->max_timestamp < since || dir->min_timestamp >= until);
  };
  if (!filters.by_session()) {
    // Every sealed segment's index is needed (or its directory, for a
    // window): load them on all workers at once.
    workers_->Run(segments.size(), [&](size_t k, int) {
      if (segments[k].sealed == nullptr) return;
      if (outside_window(segments[k])) {
        outside[k] = 1;
        return;
      }
      (void)Info(segments[k], /*sessions=*/false);  // errors are reported below
    });
  }
  for (size_t k = 0; k < segments.size(); ++k) {
    const SegmentSnapshot& seg = segments[k];
    if (stopped) break;
    ++stats.segments;
    if (seg.raw != nullptr) {
      SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                             seg.base, SegmentScanner::Mode::kSkipDamage, count_reporter,
                             RawBounds(seg));
      RecordView rec;
      EventKeys keys;
      while (!stopped && scanner.Next(&rec)) {
        if (rec.sequence > seg.last_sequence) break;
        ++stats.raw_records;
        if (KeysOf(rec, &keys) && filters.Matches(keys, /*check_session=*/true)) {
          deliver(rec.sequence, rec.event);
        }
      }
      flush();  // the views point into this segment's mapping
      continue;
    }
    const SealedSegment& sealed = *seg.sealed;
    if (outside[k] || (filters.by_session() && outside_window(seg))) continue;
    if (filters.by_session() && !Cached(seg)) {
      // Sessions in a segment whose index is not loaded (a one-shot query,
      // as from the CLI): find their runs through the index's session
      // directory instead of decoding the whole index.
      std::vector<SessionRun> runs;
      bool exact = true, usable = true;
      uint64_t count = 0;
      for (const std::string& id : plan->sessions) {
        auto dir = sealed.LookupSession(SessionHash(id));
        if (!dir.ok()) {
          usable = false;  // a damaged index: the path below rebuilds it
          break;
        }
        for (const SessionDirEntry& e : dir->entries) {
          runs.insert(runs.end(), e.runs.begin(), e.runs.end());
          count += e.events;
        }
        exact = exact && dir->entries.size() <= 1;
      }
      if (usable) {
        if (runs.empty()) continue;  // none of them here
        if (fn == nullptr && countable && exact) {
          matched += count;
          continue;
        }
        // Each run is a slice of the events of consecutive blocks, taken
        // in order; a block that two runs share is decompressed once. With
        // a hash collision (`!exact`) the session ids are compared as well.
        std::sort(runs.begin(), runs.end(), [](const SessionRun& a, const SessionRun& b) {
          return std::tie(a.offset, a.skip) < std::tie(b.offset, b.skip);
        });
        for (const SessionRun& r : runs) sealed.Prefetch(r.offset, r.bytes);
        fresh_found();
        Found& f = *found[0];
        const bool check = !exact || filters.needs_keys();
        uint64_t cached_at = UINT64_MAX;  // the block whose events f.events holds
        std::unique_ptr<std::string> cached = blocks_->Take();
        for (const SessionRun& r : runs) {
          uint64_t skip = r.skip, left = r.count;
          for (uint64_t at = r.offset; at < r.offset + r.bytes && left > 0;
               at = sealed.NextBlock(at)) {
            if (at != cached_at) {
              cached_at = at;
              if (auto s = sealed.ReadBlock(at, &LocalCodec(), cached.get(), &f.events); !s.ok()) {
                f.damage.push_back(Corruption{sealed.path(), at, sealed.NextBlock(at),
                                              std::string(s.message())});
                f.events.clear();
                break;  // the rest of this run cannot be placed
              }
              ++f.blocks_read;
            }
            const uint64_t n = f.events.size();
            for (uint64_t i = skip; i < n && left > 0; ++i, --left) {
              const BlockEvent& e = f.events[i];
              if (check && !passes(e.event, !exact)) continue;
              f.matches.push_back(BlockEvent{e.sequence, f.arena.Keep(e.event)});
            }
            skip = skip > n ? skip - n : 0;
          }
        }
        blocks_->Give(std::move(cached));
        deliver_found();
        continue;
      }
    }
    auto info_or = Info(seg, /*sessions=*/filters.by_session());
    if (!info_or.ok()) {
      count_reporter(Corruption{sealed.path(), 0, 0, std::string(info_or.status().message())});
      continue;
    }
    const SegmentInfo& info = **info_or;
    const SegmentIndex& idx = *info.index;
    const std::vector<uint32_t> sessions = Ids(plan->sessions, info.session_ids);
    const std::vector<uint32_t> types = Ids(query.types, info.type_ids);
    const std::vector<uint32_t> tools = Ids(query.tools, info.tool_ids);
    stats.blocks_total += idx.blocks.size();
    if ((filters.by_session() && sessions.empty()) || (!query.types.empty() && types.empty()) ||
        (!query.tools.empty() && tools.empty())) {
      continue;  // the segment holds none of them
    }
    // Candidate blocks: those of the sessions, or all; then the ones whose
    // summary can match.
    std::vector<uint32_t> blocks;
    if (filters.by_session()) {
      for (uint32_t s : sessions) {
        blocks.insert(blocks.end(), info.session_blocks[s].begin(), info.session_blocks[s].end());
      }
      std::sort(blocks.begin(), blocks.end());
      blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    } else {
      blocks.resize(idx.blocks.size());
      for (uint32_t b = 0; b < blocks.size(); ++b) blocks[b] = b;
    }
    std::vector<uint32_t> todo;
    std::vector<char> whole;  // by todo: every event passes the filters beyond the session
    for (uint32_t bi : blocks) {
      const BlockSummary& b = idx.blocks[bi];
      uint64_t n = b.count;  // the exact number of matches when `countable`
      if (filters.by_session()) {
        n = 0;
        for (const auto& [s, c] : b.sessions) {
          if (std::binary_search(sessions.begin(), sessions.end(), s)) n += c;
        }
        if (n == 0) continue;
      }
      const uint64_t in_combos = by_combo ? ComboCount(b, query, types, tools) : b.count;
      if (in_combos == 0) continue;
      if (by_combo) n = in_combos;
      if (by_time && (!b.has_timestamp || b.max_timestamp < since || b.min_timestamp >= until)) {
        continue;
      }
      if (fn == nullptr && countable) {
        ++stats.blocks_counted;
        matched += n;
        continue;
      }
      todo.push_back(bi);
      // The combos say every event of the block passes the type, tool and
      // error filters: no event needs its keys parsed.
      whole.push_back(!by_time && in_combos == b.count);
    }
    if (todo.empty()) continue;
    // Map the blocks' pages in a few calls rather than a fault per page.
    for (size_t k = 0; k < todo.size();) {
      const uint64_t begin = idx.blocks[todo[k]].offset;
      size_t j = k;
      while (j + 1 < todo.size() && todo[j + 1] == todo[j] + 1) ++j;
      const BlockSummary& last = idx.blocks[todo[j]];
      sealed.Prefetch(begin, last.offset + kBlockHeaderSize + last.compressed_size - begin);
      k = j + 1;
    }
    fresh_found();
    workers_->Run(todo.size(), [&](size_t k, int w) {
      const BlockSummary& b = idx.blocks[todo[k]];
      const bool parse = filters.needs_keys() && !whole[k];
      Found& f = *found[w];
      read_block(sealed, b.offset, f, [&](const std::vector<BlockEvent>& events) {
        // Walk the block's session runs alongside its events.
        size_t run = 0, left = b.sessions.empty() ? 0 : b.sessions[0].second;
        for (const BlockEvent& e : events) {
          while (left == 0 && run + 1 < b.sessions.size()) left = b.sessions[++run].second;
          if (left > 0) --left;
          if (filters.by_session() &&
              (run >= b.sessions.size() ||
               !std::binary_search(sessions.begin(), sessions.end(), b.sessions[run].first))) {
            continue;
          }
          if (parse && !passes(e.event, /*check_session=*/false)) continue;
          f.hits.push_back(e);
        }
      });
    });
    deliver_found();
  }
  // Drop cached indexes of segments that are gone (retention).
  {
    std::lock_guard<std::mutex> l(mu_);
    if (infos_.size() > segments.size()) {
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
  }
  return std::min(matched, limit);
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
