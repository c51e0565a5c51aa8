#include "engine/query/stats_cache.h"

#include <array>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/io/atomic_file.h"
#include "engine/query/segment_identity.h"

namespace tracelog {
namespace {

using Entry = StatsCacheEntry;
using Entries = std::map<uint64_t, Entry>;  // by base sequence

// The entries of a cache file; empty and `*problem` set when it is missing
// or not one this version wrote whole.
Entries ReadCache(FileSystem* fs, const std::string& path, std::string* problem) {
  auto bytes = ReadWholeFile(fs, path);
  if (!bytes.ok()) {
    if (!absl::IsNotFound(bytes.status())) *problem = std::string(bytes.status().message());
    return {};
  }
  auto entries = DecodeStatsCache(*bytes);
  if (!entries.ok()) {
    *problem = absl::StrCat(path, ": ", entries.status().message(), " (rebuilt)");
    return {};
  }
  return std::move(*entries);
}

}  // namespace

absl::StatusOr<SessionStats> WholeLogStats(Log* log, QueryEngine* engine,
                                           const CorruptionReporter& reporter,
                                           StatsCacheReport* report) {
  StatsCacheReport local;
  StatsCacheReport& r = report != nullptr ? *report : local;
  FileSystem* fs = log->file_system();
  const std::string path = absl::StrCat(log->dir(), "/", kStatsCacheFileName);
  Entries cached = ReadCache(fs, path, &r.cache_problem);
  Entries keep;  // what the cache will hold: the segments present, not active
  bool changed = false;

  SessionStatsBuilder total;
  const std::vector<SegmentSnapshot> segments = log->SnapshotSegments(reporter);
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentSnapshot& seg = segments[i];
    const bool last_segment = i + 1 == segments.size();
    // The last sequence it can hold: a sealed segment's header says; a
    // rolled raw one ends before the next segment (or gap); the active one
    // goes on.
    const uint64_t bound = seg.sealed != nullptr ? seg.sealed->last_sequence()
                           : !last_segment       ? segments[i + 1].base - 1
                                                 : UINT64_MAX;
    SegmentKey key;
    const bool cacheable = KeyOf(seg, last_segment, &key);
    if (cacheable) {
      auto it = cached.find(seg.base);
      if (it != cached.end() && it->second.last_sequence == key.last &&
          it->second.identity == key.identity && total.MergePartial(it->second.partial).ok()) {
        keep[seg.base] = std::move(it->second);
        ++r.segments_cached;
        continue;
      }
    }
    // Read its events, and nothing of the next segment; a segment read
    // whole and undamaged is cached.
    const std::string& file = seg.sealed != nullptr ? seg.sealed->path() : seg.raw->path();
    uint64_t damage = 0, events = 0;
    ReaderOptions options;
    options.from_sequence = seg.base;
    options.reporter = [&](const Corruption& c) {
      ++damage;
      if (reporter) reporter(c);
    };
    auto reader = log->NewReader(options);
    SessionStatsBuilder part;
    LogEvent ev;
    while (reader->Next(&ev)) {
      if (ev.sequence > bound) break;
      part.Add(ev.event, ev.keys);
      ++events;
      if (ev.sequence == bound) break;
    }
    if (!reader->status().ok()) {  // what could be read counts; it is not cached
      ++damage;
      if (reporter) reporter(Corruption{file, 0, 0, std::string(reader->status().message())});
    }
    if (seg.sealed != nullptr && events != seg.sealed->header().event_count) ++damage;
    r.events_read += events;
    ++r.segments_read;
    const std::string partial = part.SerializePartial();
    if (absl::Status s = total.MergePartial(partial); !s.ok()) return s;
    if (cacheable && damage == 0) {
      keep[seg.base] = Entry{key.last, key.identity, partial};
      changed = true;
    }
  }
  changed = changed || keep.size() != cached.size();

  // Results and errors whose call is named in its own segment too: that
  // session's tool_calls, from the log.
  std::vector<std::string> unpaired = total.UnpairedSessions();
  if (!unpaired.empty()) {
    r.sessions_paired_from_log = unpaired.size();
    Query q;
    q.sessions = unpaired;
    q.types = {"tool_call"};
    auto n = engine->Run(
        q,
        [&](uint64_t, absl::string_view event) {
          total.AddCallForPairing(event);
          return true;
        },
        nullptr, reporter);
    if (!n.ok()) return n.status();
  }

  if (changed) {
    absl::Status s = WriteFileAtomically(fs, log->dir(), path, EncodeStatsCache(keep),
                                         /*sync_dir=*/false);
    r.cache_written = s.ok();
    if (!s.ok()) r.cache_problem = std::string(s.message());
  }
  return std::move(total).Finish();
}

}  // namespace tracelog
