// One query's run (QueryEngine::Execute): which segments and blocks can
// hold matches, reading them on the workers, and delivering the matches in
// sequence order.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "engine/format/event_keys.h"
#include "engine/query/query.h"
#include "engine/query/query_internal.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_scanner.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

namespace {

using StringPool = QueryEngine::StringPool;
using query_internal::KeysOf;
using query_internal::LocalCodec;
using query_internal::RawBounds;

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

// The thread's JSON key extractor, kept across queries: a fresh parser each
// time costs page faults on its new buffers.
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

}  // namespace

// One query's run over a snapshot of the segments: the filters, what has
// matched so far, and the matches waiting to go to the caller's `fn`.
class QueryEngine::Execution {
 public:
  // `query`, `plan`, `fn`, `stats` and `reporter` must outlive the run.
  Execution(QueryEngine* engine, const Query& query, const Plan& plan, const BatchFn* fn,
            QueryStats* stats, const CorruptionReporter& reporter);

  // Damage met: counted, and passed on to the caller's reporter.
  void Report(const Corruption& c);
  // Delivers the matches in `segments`, in sequence order, until the limit
  // or until `fn` returns false.
  void ScanSegments(const std::vector<SegmentSnapshot>& segments);
  // The number of matches, at most the limit.
  uint64_t Result() const { return std::min(matched_, limit_); }

 private:
  // Hands the pending matches to `fn`.
  void Flush();
  // One match: counted, and queued for `fn`.
  void Deliver(uint64_t seq, absl::string_view event);
  // Whether an event (a view into a block read by ReadBlock, so parsable in
  // place) passes the filters.
  bool Passes(absl::string_view event, bool check_session) const;
  // Whether a one-shot window query skips the sealed segment by the time
  // range in its index's directory, without loading the index.
  bool OutsideWindow(const SegmentSnapshot& seg) const;
  // When every sealed segment's index is needed (or its directory, for a
  // window), loads them on all workers at once. Returns, by segment, those
  // that OutsideWindow skips.
  std::vector<char> LoadIndexes(const std::vector<SegmentSnapshot>& segments);
  // Scans a raw segment; its records carry their keys.
  void ScanRaw(const SegmentSnapshot& seg);
  // Reads the plan's sessions in a segment whose index is not loaded (a
  // one-shot query, as from the CLI) through the index's session directory
  // instead of decoding the whole index. False, having done nothing, if the
  // directory is damaged: the caller then rebuilds the index.
  bool ScanSessionRuns(const SealedSegment& sealed);
  // Reads the events of `runs` (sorted), those of the plan's sessions, with
  // their session ids compared too unless `exact`.
  void ReadRuns(const SealedSegment& sealed, const std::vector<SessionRun>& runs, bool exact);
  // Scans a sealed segment through its (cached) index.
  void ScanIndexed(const SegmentSnapshot& seg);
  // The blocks of the plan's sessions, or all of them, in order.
  std::vector<uint32_t> CandidateBlocks(const SegmentInfo& info,
                                        const std::vector<uint32_t>& sessions) const;
  // Of `blocks`, those whose summary can match go to `todo`, with `whole`
  // (by todo) telling where every event passes the filters beyond the
  // session. A count takes the exact number from the summary instead.
  void SelectBlocks(const SegmentIndex& idx, const std::vector<uint32_t>& blocks,
                    const std::vector<uint32_t>& sessions, const std::vector<uint32_t>& types,
                    const std::vector<uint32_t>& tools, std::vector<uint32_t>* todo,
                    std::vector<char>* whole);
  // Reads the `todo` blocks on all workers, then delivers their matches.
  void ReadBlocks(const SealedSegment& sealed, const SegmentIndex& idx,
                  const std::vector<uint32_t>& todo, const std::vector<char>& whole,
                  const std::vector<uint32_t>& sessions);
  // A Found per worker, empty.
  void FreshFound();
  // Decompresses a block into a pooled buffer and passes its events to
  // `take`, which puts the matching ones in f.hits; damage is noted for
  // later. A block of which at least half the events match is kept as it
  // is until the segment is delivered (no copy); from the others the
  // matches are copied, so the buffer goes back to the pool at once.
  template <typename TakeFn>
  void ReadBlock(const SealedSegment& sealed, uint64_t offset, Found& f, const TakeFn& take);
  // Everything the workers found in one segment, in sequence order.
  void DeliverFound();

  QueryEngine* const engine_;
  const Query& query_;
  const Plan& plan_;
  const BatchFn* const fn_;  // null: count only
  QueryStats& stats_;
  const CorruptionReporter& reporter_;
  const Filters filters_;
  const bool by_time_;
  const double since_;
  const double until_;
  // A count needs no block when the index has the exact number: for the
  // sessions alone, or for any mix of type, tool and error filters.
  const bool by_combo_;
  const bool countable_;
  const uint64_t limit_;
  uint64_t matched_ = 0;
  bool stopped_ = false;
  // Matches wait here (views into blocks, arenas or raw segments that stay
  // alive until Flush()) and go to `fn` in runs.
  std::vector<BlockEvent> pending_;
  std::vector<std::unique_ptr<Found>> found_;  // by worker
};

QueryEngine::Execution::Execution(QueryEngine* engine, const Query& query, const Plan& plan,
                                  const BatchFn* fn, QueryStats* stats,
                                  const CorruptionReporter& reporter)
    : engine_(engine),
      query_(query),
      plan_(plan),
      fn_(fn),
      stats_(*stats),
      reporter_(reporter),
      filters_(query, plan.sessions),
      by_time_(query.since.has_value() || query.until.has_value()),
      since_(query.since.value_or(-INFINITY)),
      until_(query.until.value_or(INFINITY)),
      by_combo_(!query.types.empty() || !query.tools.empty() || query.error),
      countable_(!by_time_ && !(filters_.by_session() && by_combo_)),
      limit_(query.limit == 0 ? UINT64_MAX : query.limit) {}

void QueryEngine::Execution::Report(const Corruption& c) {
  ++stats_.corruptions;
  if (reporter_) reporter_(c);
}

void QueryEngine::Execution::Flush() {
  if (fn_ != nullptr && !pending_.empty() && !(*fn_)(absl::MakeConstSpan(pending_))) {
    stopped_ = true;
  }
  pending_.clear();
}

void QueryEngine::Execution::Deliver(uint64_t seq, absl::string_view event) {
  ++matched_;
  if (fn_ != nullptr) {
    pending_.push_back(BlockEvent{seq, event});
    if (pending_.size() >= 4096) Flush();
  }
  if (matched_ >= limit_) stopped_ = true;
}

bool QueryEngine::Execution::Passes(absl::string_view event, bool check_session) const {
  EventKeys keys;
  return LocalExtractor().Extract(event, &keys, /*validate=*/false, kExtractPadding).ok() &&
         filters_.Matches(keys, check_session);
}

bool QueryEngine::Execution::OutsideWindow(const SegmentSnapshot& seg) const {
  if (!by_time_ || engine_->Cached(seg)) return false;
  auto dir = seg.sealed->DirectoryHeader();
  return dir.ok() &&
         (!dir->has_timestamp || dir->max_timestamp < since_ || dir->min_timestamp >= until_);
}

std::vector<char> QueryEngine::Execution::LoadIndexes(
    const std::vector<SegmentSnapshot>& segments) {
  std::vector<char> outside(segments.size(), 0);
  if (filters_.by_session()) return outside;  // only the sessions' segments are read
  engine_->workers_->Run(segments.size(), [&](size_t k, int) {
    if (segments[k].sealed == nullptr) return;
    if (OutsideWindow(segments[k])) {
      outside[k] = 1;
      return;
    }
    (void)engine_->Info(segments[k], /*sessions=*/false);  // errors are reported later
  });
  return outside;
}

void QueryEngine::Execution::ScanSegments(const std::vector<SegmentSnapshot>& segments) {
  const std::vector<char> outside = LoadIndexes(segments);
  for (size_t k = 0; k < segments.size(); ++k) {
    const SegmentSnapshot& seg = segments[k];
    if (stopped_) break;
    ++stats_.segments;
    if (seg.raw != nullptr) {
      ScanRaw(seg);
      continue;
    }
    if (outside[k] || (filters_.by_session() && OutsideWindow(seg))) continue;
    if (filters_.by_session() && !engine_->Cached(seg) && ScanSessionRuns(*seg.sealed)) continue;
    ScanIndexed(seg);
  }
}

void QueryEngine::Execution::ScanRaw(const SegmentSnapshot& seg) {
  SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                         seg.base, SegmentScanner::Mode::kSkipDamage,
                         [this](const Corruption& c) { Report(c); }, RawBounds(seg));
  RecordView rec;
  EventKeys keys;
  while (!stopped_ && scanner.Next(&rec)) {
    if (rec.sequence > seg.last_sequence) break;
    ++stats_.raw_records;
    if (KeysOf(rec, &keys) && filters_.Matches(keys, /*check_session=*/true)) {
      Deliver(rec.sequence, rec.event);
    }
  }
  Flush();  // the views point into this segment's mapping
}

bool QueryEngine::Execution::ScanSessionRuns(const SealedSegment& sealed) {
  std::vector<SessionRun> runs;
  bool exact = true;
  uint64_t count = 0;
  for (const std::string& id : plan_.sessions) {
    auto dir = sealed.LookupSession(SessionHash(id));
    if (!dir.ok()) return false;  // a damaged index: the caller rebuilds it
    for (const SessionDirEntry& e : dir->entries) {
      runs.insert(runs.end(), e.runs.begin(), e.runs.end());
      count += e.events;
    }
    exact = exact && dir->entries.size() <= 1;
  }
  if (runs.empty()) return true;  // none of them here
  if (fn_ == nullptr && countable_ && exact) {
    matched_ += count;
    return true;
  }
  std::sort(runs.begin(), runs.end(), [](const SessionRun& a, const SessionRun& b) {
    return std::tie(a.offset, a.skip) < std::tie(b.offset, b.skip);
  });
  ReadRuns(sealed, runs, exact);
  return true;
}

void QueryEngine::Execution::ReadRuns(const SealedSegment& sealed,
                                      const std::vector<SessionRun>& runs, bool exact) {
  // Each run is a slice of the events of consecutive blocks, taken in
  // order; a block that two runs share is decompressed once. With a hash
  // collision (`!exact`) the session ids are compared as well.
  for (const SessionRun& r : runs) sealed.Prefetch(r.offset, r.bytes);
  FreshFound();
  Found& f = *found_[0];
  const bool check = !exact || filters_.needs_keys();
  uint64_t cached_at = UINT64_MAX;  // the block whose events f.events holds
  std::unique_ptr<std::string> cached = engine_->blocks_->Take();
  for (const SessionRun& r : runs) {
    uint64_t skip = r.skip, left = r.count;
    for (uint64_t at = r.offset; at < r.offset + r.bytes && left > 0; at = sealed.NextBlock(at)) {
      if (at != cached_at) {
        cached_at = at;
        if (auto s = sealed.ReadBlock(at, &LocalCodec(), cached.get(), &f.events); !s.ok()) {
          f.damage.push_back(
              Corruption{sealed.path(), at, sealed.NextBlock(at), std::string(s.message())});
          f.events.clear();
          break;  // the rest of this run cannot be placed
        }
        ++f.blocks_read;
      }
      const uint64_t n = f.events.size();
      for (uint64_t i = skip; i < n && left > 0; ++i, --left) {
        const BlockEvent& e = f.events[i];
        if (check && !Passes(e.event, !exact)) continue;
        f.matches.push_back(BlockEvent{e.sequence, f.arena.Keep(e.event)});
      }
      skip = skip > n ? skip - n : 0;
    }
  }
  engine_->blocks_->Give(std::move(cached));
  DeliverFound();
}

void QueryEngine::Execution::ScanIndexed(const SegmentSnapshot& seg) {
  const SealedSegment& sealed = *seg.sealed;
  auto info_or = engine_->Info(seg, /*sessions=*/filters_.by_session());
  if (!info_or.ok()) {
    Report(Corruption{sealed.path(), 0, 0, std::string(info_or.status().message())});
    return;
  }
  const SegmentInfo& info = **info_or;
  const SegmentIndex& idx = *info.index;
  const std::vector<uint32_t> sessions = Ids(plan_.sessions, info.session_ids);
  const std::vector<uint32_t> types = Ids(query_.types, info.type_ids);
  const std::vector<uint32_t> tools = Ids(query_.tools, info.tool_ids);
  stats_.blocks_total += idx.blocks.size();
  if ((filters_.by_session() && sessions.empty()) || (!query_.types.empty() && types.empty()) ||
      (!query_.tools.empty() && tools.empty())) {
    return;  // the segment holds none of them
  }
  std::vector<uint32_t> todo;
  std::vector<char> whole;
  SelectBlocks(idx, CandidateBlocks(info, sessions), sessions, types, tools, &todo, &whole);
  if (todo.empty()) return;
  // Map the blocks' pages in a few calls rather than a fault per page.
  for (size_t k = 0; k < todo.size();) {
    const uint64_t begin = idx.blocks[todo[k]].offset;
    size_t j = k;
    while (j + 1 < todo.size() && todo[j + 1] == todo[j] + 1) ++j;
    const BlockSummary& last = idx.blocks[todo[j]];
    sealed.Prefetch(begin, last.offset + kBlockHeaderSize + last.compressed_size - begin);
    k = j + 1;
  }
  ReadBlocks(sealed, idx, todo, whole, sessions);
}

std::vector<uint32_t> QueryEngine::Execution::CandidateBlocks(
    const SegmentInfo& info, const std::vector<uint32_t>& sessions) const {
  std::vector<uint32_t> blocks;
  if (filters_.by_session()) {
    for (uint32_t s : sessions) {
      blocks.insert(blocks.end(), info.session_blocks[s].begin(), info.session_blocks[s].end());
    }
    std::sort(blocks.begin(), blocks.end());
    blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  } else {
    blocks.resize(info.index->blocks.size());
    for (uint32_t b = 0; b < blocks.size(); ++b) blocks[b] = b;
  }
  return blocks;
}

void QueryEngine::Execution::SelectBlocks(const SegmentIndex& idx,
                                          const std::vector<uint32_t>& blocks,
                                          const std::vector<uint32_t>& sessions,
                                          const std::vector<uint32_t>& types,
                                          const std::vector<uint32_t>& tools,
                                          std::vector<uint32_t>* todo, std::vector<char>* whole) {
  // The loop reads the filters from locals and counts into locals: through
  // `this`, every write to the counters would make the compiler load the
  // filters again for the next block.
  const bool by_session = filters_.by_session(), by_combo = by_combo_, by_time = by_time_;
  const bool count_only = fn_ == nullptr && countable_;
  const double since = since_, until = until_;
  uint64_t counted = 0, matched = 0;
  for (uint32_t bi : blocks) {
    const BlockSummary& b = idx.blocks[bi];
    uint64_t n = b.count;  // the exact number of matches when `countable_`
    if (by_session) {
      n = 0;
      for (const auto& [s, c] : b.sessions) {
        if (std::binary_search(sessions.begin(), sessions.end(), s)) n += c;
      }
      if (n == 0) continue;
    }
    const uint64_t in_combos = by_combo ? ComboCount(b, query_, types, tools) : b.count;
    if (in_combos == 0) continue;
    if (by_combo) n = in_combos;
    if (by_time && (!b.has_timestamp || b.max_timestamp < since || b.min_timestamp >= until)) {
      continue;
    }
    if (count_only) {
      ++counted;
      matched += n;
      continue;
    }
    todo->push_back(bi);
    // The combos say every event of the block passes the type, tool and
    // error filters: no event needs its keys parsed.
    whole->push_back(!by_time && in_combos == b.count);
  }
  stats_.blocks_counted += counted;
  matched_ += matched;
}

void QueryEngine::Execution::ReadBlocks(const SealedSegment& sealed, const SegmentIndex& idx,
                                        const std::vector<uint32_t>& todo,
                                        const std::vector<char>& whole,
                                        const std::vector<uint32_t>& sessions) {
  FreshFound();
  engine_->workers_->Run(todo.size(), [&](size_t k, int w) {
    const BlockSummary& b = idx.blocks[todo[k]];
    const bool parse = filters_.needs_keys() && !whole[k];
    Found& f = *found_[w];
    ReadBlock(sealed, b.offset, f, [&](const std::vector<BlockEvent>& events) {
      // Walk the block's session runs alongside its events.
      size_t run = 0, left = b.sessions.empty() ? 0 : b.sessions[0].second;
      for (const BlockEvent& e : events) {
        while (left == 0 && run + 1 < b.sessions.size()) left = b.sessions[++run].second;
        if (left > 0) --left;
        if (filters_.by_session() &&
            (run >= b.sessions.size() ||
             !std::binary_search(sessions.begin(), sessions.end(), b.sessions[run].first))) {
          continue;
        }
        if (parse && !Passes(e.event, /*check_session=*/false)) continue;
        f.hits.push_back(e);
      }
    });
  });
  DeliverFound();
}

void QueryEngine::Execution::FreshFound() {
  found_.clear();
  for (int w = 0; w < engine_->workers_->size(); ++w) {
    found_.push_back(std::make_unique<Found>(engine_->chunks_.get(), engine_->blocks_.get()));
  }
}

template <typename TakeFn>
void QueryEngine::Execution::ReadBlock(const SealedSegment& sealed, uint64_t offset, Found& f,
                                       const TakeFn& take) {
  StringPool& blocks = *engine_->blocks_;
  auto raw = blocks.Take();
  f.hits.clear();
  if (auto s = sealed.ReadBlock(offset, &LocalCodec(), raw.get(), &f.events); !s.ok()) {
    f.damage.push_back(
        Corruption{sealed.path(), offset, sealed.NextBlock(offset), std::string(s.message())});
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
  for (const BlockEvent& e : f.hits) {
    f.matches.push_back(BlockEvent{e.sequence, f.arena.Keep(e.event)});
  }
  blocks.Give(std::move(raw));
}

void QueryEngine::Execution::DeliverFound() {
  std::vector<BlockEvent> all;
  std::vector<Corruption> damage;
  for (auto& f : found_) {
    stats_.blocks_read += f->blocks_read;
    all.insert(all.end(), f->matches.begin(), f->matches.end());
    damage.insert(damage.end(), f->damage.begin(), f->damage.end());
  }
  std::sort(damage.begin(), damage.end(),
            [](const Corruption& a, const Corruption& b) { return a.begin < b.begin; });
  for (const Corruption& c : damage) Report(c);
  std::sort(all.begin(), all.end(),
            [](const BlockEvent& a, const BlockEvent& b) { return a.sequence < b.sequence; });
  for (const BlockEvent& e : all) {
    if (stopped_) break;
    Deliver(e.sequence, e.event);
  }
  Flush();
  found_.clear();  // the arenas and kept blocks go back to the pool
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
  Execution run(this, query, *plan, fn, &stats, reporter);
  const std::vector<SegmentSnapshot> segments =
      log_->SnapshotSegments([&run](const Corruption& c) { run.Report(c); });
  run.ScanSegments(segments);
  ForgetGoneSegments(segments);
  return run.Result();
}

}  // namespace tracelog
