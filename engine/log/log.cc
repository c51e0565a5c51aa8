#include "engine/log/log.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "engine/format/attachment_format.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/log/segment.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "engine/seal/sealer.h"

namespace tracelog {

namespace {
constexpr char kLockFileName[] = "LOCK";

// Sleep on / wake a 32-bit word directly with futex(2). std::atomic::wait in
// libstdc++ 12 spins with sched_yield first, which on two cores shared by
// many appenders burns the CPU the syncing thread needs.
void FutexWait(std::atomic<uint32_t>* word, uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, nullptr,
          nullptr, 0);
}
void FutexWaitFor(std::atomic<uint32_t>* word, uint32_t seen, std::chrono::nanoseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
              static_cast<long>(timeout.count() % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr,
          0);
}
void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}
constexpr uint64_t kPrefaultChunk = 2ull << 20;
constexpr size_t kMaxUnsyncedSegments = 16;  // rolled segments awaiting their sync
constexpr size_t kMaxSpares = 4;             // sealed raw segments kept for an import
}  // namespace

absl::Status PrepareEvent(absl::string_view event, PreparedEvent* out) {
  thread_local EventKeyExtractor extractor;
  EventKeys keys;
  if (auto s = extractor.Extract(event, &keys); !s.ok()) return s;
  out->event = event;
  out->keys.clear();
  EncodeKeys(keys, &out->keys);
  out->flags = (keys.error ? kFlagError : 0) | (keys.has_timestamp ? kFlagHasTimestamp : 0);
  out->timestamp = keys.timestamp;
  out->checksum = Checksum64(event);
  out->invalid_utf8 = extractor.last_was_invalid_utf8();
  return absl::OkStatus();
}

Log::Log(std::string dir, LogOptions options)
    : dir_(std::move(dir)), options_(options),
      fs_(options.fs != nullptr ? options.fs : DefaultFileSystem()),
      dicts_(std::make_unique<DictionaryStore>(fs_, dir_)) {
  const std::string boot_id = fs_->BootId();
  boot_hash_ = boot_id.empty() ? 0 : Checksum64(boot_id);
}

Log::~Log() {
  bool open;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    open = !closed_;
  }
  if (open) Close().IgnoreError();
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  if (options.segment_size < 4096) {
    return absl::InvalidArgumentError("segment_size must be at least 4096 bytes");
  }
  FileSystem* fs = options.fs != nullptr ? options.fs : DefaultFileSystem();
  auto exists = fs->Exists(dir);
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    if (!options.create_if_missing || options.read_only) {
      return absl::NotFoundError(absl::StrCat(dir, ": no such log directory"));
    }
    if (auto s = fs->CreateDir(dir); !s.ok()) return s;
  }
  std::unique_ptr<Log> log(new Log(dir, options));
  // Under `always` every append is followed by an fdatasync, which
  // write-protects the mapped pages it cleans; appending through the mapping
  // would then fault on every page again and flush TLBs of every core. A
  // pwrite per batch is cheaper there (bench/RESULTS.md).
  // A bulk writer asks for pwrite too (LogOptions::append_with_pwrite).
  log->use_pwrite_ =
      options.sync.kind == SyncPolicy::Kind::kAlways || options.append_with_pwrite;
  if (log->use_pwrite_) log->options_.prefault_bytes = 0;
  if (!options.read_only) {
    auto lock = fs->Lock(JoinPath(dir, kLockFileName));
    if (!lock.ok()) return lock.status();
    log->lock_ = std::move(*lock);
    auto cp = fs->Open(JoinPath(dir, kCheckpointFileName), OpenMode::kCreateOrOpen);
    if (!cp.ok()) return cp.status();
    log->checkpoint_file_ = std::move(*cp);
  }
  if (auto s = log->Recover(); !s.ok()) return s;
  {
    std::lock_guard<AdaptiveMutex> l(log->mu_);
    log->closed_ = false;
  }
  if (!options.read_only) {
    log->bg_thread_ = std::thread([l = log.get()] { l->BackgroundLoop(); });
    if (log->options_.prefault_bytes > 0) {
      log->prefault_thread_ = std::thread([l = log.get()] { l->PrefaultLoop(); });
    }
    if (log->options_.seal_on_roll) {
      // Raw segments other than the active one: sealing a previous writer
      // did not finish (or never started).
      std::vector<uint64_t> pending;
      {
        std::lock_guard<std::mutex> l(log->segments_mu_);
        for (size_t i = 0; i + 1 < log->segments_.size(); ++i) {
          if (!log->segments_[i].is_sealed) pending.push_back(log->segments_[i].base);
        }
      }
      for (uint64_t base : pending) log->EnqueueSeal(base);
      log->seal_thread_ = std::thread([l = log.get()] { l->SealLoop(); });
    }
  }
  return log;
}

absl::Status Log::LoadSegmentList() {
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();
  const bool writable = !options_.read_only;
  std::vector<uint64_t> raw, sealed, index;
  bool removed = false;
  // An import in progress (or left by a process that died): its files are
  // not part of the log. A writer removes them, a reader ignores them.
  auto in_progress = ImportInProgress(fs_, dir_, *names);
  if (!in_progress.ok()) return in_progress.status();
  const std::optional<uint64_t> import_from = *in_progress;
  const std::string marker = JoinPath(dir_, kImportMarkerFileName);
  auto of_import = [&](std::optional<uint64_t> base) {
    return base && import_from && *base >= *import_from;
  };
  for (const std::string& name : *names) {
    const std::optional<uint64_t> base_of = [](absl::string_view n) -> std::optional<uint64_t> {
      n = absl::StripSuffix(absl::StripSuffix(n, ".tmp"), ".discarded");
      if (auto b = ParseSegmentFileName(n)) return b;
      if (auto b = ParseSealedFileName(n)) return b;
      if (auto b = ParseIndexFileName(n)) return b;
      return ParseAttachFileName(n);
    }(name);
    if (of_import(base_of) || (import_from && absl::EndsWith(name, ".tmp"))) {
      if (writable) {
        if (auto s = fs_->Remove(JoinPath(dir_, name)); !s.ok() && !absl::IsNotFound(s)) return s;
        removed = true;
      }
      continue;
    }
    if (auto base = ParseSegmentFileName(name)) {
      raw.push_back(*base);
    } else if (auto base = ParseSealedFileName(name)) {
      sealed.push_back(*base);
    } else if (auto base = ParseIndexFileName(name)) {
      index.push_back(*base);
    } else if (writable && absl::EndsWith(name, ".tmp") &&
               (absl::EndsWith(name, ".seg.tmp") || absl::EndsWith(name, ".sealed.tmp") ||
                absl::EndsWith(name, ".idx.tmp") || absl::StartsWith(name, "DICT-"))) {
      // A file whose creation did not finish: never part of the log.
      fs_->Remove(JoinPath(dir_, name)).IgnoreError();
    }
  }
  std::sort(raw.begin(), raw.end());
  std::sort(sealed.begin(), sealed.end());
  auto has = [](const std::vector<uint64_t>& v, uint64_t b) {
    return std::binary_search(v.begin(), v.end(), b);
  };
  std::vector<uint64_t> superseded;  // raw segments whose sealed form is complete
  for (uint64_t base : sealed) {
    const std::string path = JoinPath(dir_, SealedFileName(base));
    if (has(raw, base)) {
      // Both: the seal finished (a .sealed file exists only once it was
      // written and synced in full) but the raw segment's removal did not.
      // The sealed form wins if it is intact; else the raw one stays.
      if (SealedSegment::Open(fs_, dir_, base, dicts_.get()).ok()) {
        superseded.push_back(base);
      } else {
        if (writable) {
          if (auto s = fs_->Remove(path); !s.ok()) return s;
          removed = true;
        }
        continue;
      }
    }
    SegmentRef ref{base, path, nullptr};
    ref.is_sealed = true;
    segments_.push_back(std::move(ref));
  }
  for (uint64_t base : raw) {
    const std::string path = JoinPath(dir_, SegmentFileName(base));
    if (has(superseded, base)) {
      if (writable) {
        if (auto s = fs_->Remove(path); !s.ok()) return s;
        removed = true;
      }
      continue;
    }
    segments_.push_back(SegmentRef{base, path, nullptr});
  }
  for (uint64_t base : index) {
    const bool sealed_kept = has(sealed, base) && (!has(raw, base) || has(superseded, base));
    if (writable && !sealed_kept) {
      if (auto s = fs_->Remove(JoinPath(dir_, IndexFileName(base))); !s.ok()) return s;
      removed = true;
    }
  }
  if (removed) {
    if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;
  }
  if (import_from && writable) {
    // A dictionary that no remaining sealed segment names was trained
    // during the rolled-back import (or by a seal that never finished): it
    // was made from the import's events, so it goes too (the next seal
    // trains one again). If any sealed header is unreadable, all stay.
    if (auto s = RemoveUnusedDictionaries(*names); !s.ok()) return s;
    // Its files are gone (synced above): now the marker.
    if (auto s = fs_->Remove(marker); !s.ok()) return s;
    if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;
    recovery_.rolled_back_import = *import_from;
  }
  std::sort(segments_.begin(), segments_.end(),
            [](const SegmentRef& a, const SegmentRef& b) { return a.base < b.base; });
  return absl::OkStatus();
}

absl::Status Log::RemoveUnusedDictionaries(const std::vector<std::string>& names) {
  absl::flat_hash_set<uint64_t> named;
  for (const SegmentRef& ref : segments_) {
    if (!ref.is_sealed) continue;
    auto file = fs_->Open(ref.path, OpenMode::kRead);
    std::string header;
    SealedHeader h;
    if (!file.ok() || !(*file)->Read(0, kSealedHeaderSize, &header).ok() ||
        !DecodeSealedHeader(header, &h).ok()) {
      return absl::OkStatus();  // cannot tell which one it needs: keep them all
    }
    named.insert(h.dict_id);
  }
  bool removed = false;
  for (const std::string& name : names) {
    const std::optional<uint64_t> id = ParseDictFileName(name);
    if (!id || named.contains(*id)) continue;
    if (auto s = fs_->Remove(JoinPath(dir_, name)); !s.ok() && !absl::IsNotFound(s)) return s;
    removed = true;
  }
  return removed ? fs_->SyncDir(dir_) : absl::OkStatus();
}

absl::Status Log::Recover() {
  const bool writable = !options_.read_only;
  if (auto s = LoadSegmentList(); !s.ok()) return s;
  if (segments_.empty()) {
    if (!writable) return absl::OkStatus();  // an empty log
    auto seg = Segment::Create(fs_, dir_, 1, options_.segment_size);
    if (!seg.ok()) return seg.status();
    segments_.push_back(SegmentRef{1, (*seg)->path(), *seg});
    active_ = *seg;
    write_offset_ = kSegmentHeaderSize;
    next_seq_ = 1;
    active_created_micros_ = absl::ToUnixMicros(absl::Now());
    published_offset_.store(write_offset_);
    recovery_.clean_shutdown = true;
    if (auto s = WriteCheckpoint(1, write_offset_, 1, 0, false, /*durable=*/false); !s.ok()) {
      return s;
    }
    return WriteCheckpoint(1, write_offset_, 1, 0, /*clean=*/false, /*durable=*/true);
  }

  // Where to start: the checkpoint, if it is intact and names a segment we have.
  size_t start = 0;
  uint64_t offset = kSegmentHeaderSize;
  uint64_t expected = segments_[0].base;
  double last_ts = 0;
  bool clean = false;
  bool from_volatile = false;
  size_t durable_index = 0;  // where the durable slot points (0 if nowhere)
  {
    std::string buf;
    std::unique_ptr<File> cpf;
    if (auto f = fs_->Open(JoinPath(dir_, kCheckpointFileName), OpenMode::kRead); f.ok()) {
      cpf = std::move(*f);
    }
    auto index_of = [&](const Checkpoint& cp) -> std::optional<size_t> {
      for (size_t i = 0; i < segments_.size(); ++i) {
        if (segments_[i].base == cp.segment_base && cp.end_offset >= kSegmentHeaderSize &&
            cp.next_sequence >= cp.segment_base) {
          return i;
        }
      }
      return std::nullopt;
    };
    // Two slots: the durable one, and the volatile one if this boot wrote it.
    std::optional<Checkpoint> best;
    bool best_volatile = false;
    if (cpf != nullptr && cpf->Read(0, kCheckpointFileSize, &buf).ok()) {
      for (size_t slot = 0; slot < 2; ++slot) {
        Checkpoint cp;
        if (buf.size() < (slot + 1) * kCheckpointSize ||
            !DecodeCheckpoint(absl::string_view(buf).substr(slot * kCheckpointSize), &cp).ok() ||
            !index_of(cp)) {
          continue;
        }
        if (slot == 1 && (cp.boot_hash == 0 || cp.boot_hash != boot_hash_)) continue;
        if (slot == 0) durable_index = *index_of(cp);
        if (!best || cp.next_sequence > best->next_sequence) {
          best = cp;
          best_volatile = slot == 1;
        }
      }
    }
    if (best) {
      start = *index_of(*best);
      offset = best->end_offset;
      expected = best->next_sequence;
      last_ts = best->last_timestamp;
      clean = (best->flags & kCheckpointFlagClean) != 0 && start + 1 == segments_.size();
      from_volatile = best_volatile;
      recovery_.used_checkpoint = true;
    }
  }

  // Scan forward from there through the last segment. If the checkpoint's own
  // segment cannot be opened, scan again from the first segment.
  size_t last = start;
  uint64_t end = offset;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool restart = false;
    last = start;
    end = offset;
    size_t i = start;
    while (i < segments_.size()) {
      SegmentRef& ref = segments_[i];
      absl::Status gap;
      std::shared_ptr<Segment> seg;
      if (i > start && ref.base != expected) {
        gap = absl::DataLossError(absl::StrCat(ref.path, ": starts at sequence ", ref.base,
                                               ", the log before it ends at ", expected - 1));
      } else if (ref.is_sealed) {
        // Sealed segments are immutable and complete: no scan.
        auto opened = SealedSegment::Open(fs_, dir_, ref.base, dicts_.get());
        if (opened.ok()) {
          ref.sealed = *opened;
          expected = (*opened)->last_sequence() + 1;
          last = i;
          ++i;
          continue;
        }
        if (!absl::IsDataLoss(opened.status())) return opened.status();
        gap = opened.status();
      } else {
        auto opened = Segment::Open(fs_, ref.path, ref.base, writable);
        if (!writable && absl::IsNotFound(opened.status())) {
          // The writer sealed it since we listed the directory.
          auto sealed = SealedSegment::Open(fs_, dir_, ref.base, dicts_.get());
          if (sealed.ok()) {
            ref.is_sealed = true;
            ref.path = (*sealed)->path();
            ref.sealed = *sealed;
            expected = (*sealed)->last_sequence() + 1;
            last = i;
            ++i;
            continue;
          }
        }
        if (opened.ok()) {
          seg = *opened;
        } else if (!absl::IsDataLoss(opened.status())) {
          return opened.status();  // an I/O error, not damage: change nothing
        } else {
          gap = opened.status();
        }
      }
      if (!gap.ok() && i > start && ref.base < expected && !ref.is_sealed) {
        // A segment created by a roll that then failed, before any event went
        // into it: not part of the log.
        auto leftover = Segment::Open(fs_, ref.path, ref.base, false);
        RecordView rec;
        if (leftover.ok() && DecodeRecord((*leftover)->contents(), kSegmentHeaderSize, &rec) ==
                                 RecordStatus::kEndOfData) {
          if (writable) {
            if (auto s = fs_->Remove(ref.path); !s.ok()) return s;
          }
          segments_.erase(segments_.begin() + i);
          continue;
        }
      }
      if (!gap.ok() && i == start && start > 0 && attempt == 0) {
        restart = true;  // the checkpoint's segment is damaged: no checkpoint
        break;
      }
      if (!gap.ok()) {
        // Everything from here on is not part of the gap-free prefix.
        if (recovery_.truncation_reason.empty()) recovery_.truncation_reason = gap.ToString();
        for (size_t j = i; j < segments_.size(); ++j) {
          if (writable) {
            const std::string to = segments_[j].path + ".discarded";
            if (auto s = fs_->Rename(segments_[j].path, to); !s.ok()) return s;
            recovery_.discarded_segments.push_back(to);
          }
        }
        segments_.resize(i);
        if (writable) {
          if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;
        }
        break;
      }
      const uint64_t from = i == start ? offset : kSegmentHeaderSize;
      SegmentScanner scanner(seg->path(), seg->contents(), from, seg->size(), expected,
                             SegmentScanner::Mode::kStopAtDamage);
      RecordView rec;
      while (scanner.Next(&rec)) last_ts = rec.timestamp;
      recovery_.scanned_bytes += scanner.offset() - from;
      expected = scanner.expected_sequence();
      end = scanner.offset();
      if (scanner.stop_status() != RecordStatus::kEndOfData) {
        recovery_.truncation_reason =
            absl::StrCat(seg->path(), ": ", RecordStatusName(scanner.stop_status()), " at offset ",
                         end, "; the log ends there");
      }
      ref.segment = seg;
      last = i;
      ++i;
    }
    if (!restart) break;
    start = 0;
    offset = kSegmentHeaderSize;
    expected = segments_[0].base;
    last_ts = 0;
    clean = false;
    from_volatile = false;
    durable_index = 0;
    recovery_.used_checkpoint = false;
    recovery_.clean_shutdown = false;
  }
  recovery_.clean_shutdown = clean;
  if (segments_.empty()) return absl::DataLossError(dir_ + ": no readable segment");
  recovery_.truncated_at = end;

  // Everything kept becomes durable before new appends go after it; the tail
  // beyond the end is zeroed so no stale record can ever follow new ones.
  if (writable && from_volatile) {
    // The volatile checkpoint vouched for segments that may never have been
    // synced: sync them before the durable slot moves past them.
    for (size_t j = durable_index; j < start; ++j) {
      if (segments_[j].is_sealed) continue;  // sealed segments are durable
      auto seg = Segment::Open(fs_, segments_[j].path, segments_[j].base, /*writable=*/true);
      if (!seg.ok()) return seg.status();
      if (auto s = (*seg)->Sync(); !s.ok()) return s;
    }
  }
  for (size_t i = start; i <= last; ++i) {
    const std::shared_ptr<Segment>& seg = segments_[i].segment;
    if (!writable || segments_[i].is_sealed) continue;
    if (i == last) {
      const bool untouched = clean && recovery_.truncation_reason.empty() && last == start &&
                             end == offset;
      if (!untouched) {
        if (auto s = seg->ZeroTail(end); !s.ok()) return s;
      } else if (from_volatile) {
        if (auto s = seg->Sync(); !s.ok()) return s;
      }
    } else {
      if (auto s = seg->Sync(); !s.ok()) return s;
      seg->ReleaseFile();
    }
  }
  if (segments_[last].is_sealed && writable) {
    // Every segment is sealed (a retention or seal run that left no raw
    // segment): appends go into a new one.
    auto seg = Segment::Create(fs_, dir_, expected, options_.segment_size);
    if (!seg.ok()) return seg.status();
    segments_.push_back(SegmentRef{expected, (*seg)->path(), *seg});
    last = segments_.size() - 1;
    end = kSegmentHeaderSize;
  }
  if (segments_[last].is_sealed) end = 0;  // read-only, no raw segment
  active_ = segments_[last].segment;
  write_offset_ = end;
  next_seq_ = expected;
  last_ts_ = last_ts;
  if (active_ != nullptr) {
    SegmentHeader h;
    DecodeSegmentHeader(active_->contents(), &h).IgnoreError();
    active_created_micros_ = h.created_micros;
  }
  published_offset_.store(end);
  published_seq_.store(expected - 1);
  durable_seq_ = expected - 1;
  durable_atomic_.store(expected - 1);
  if (!writable) return absl::OkStatus();
  // Both slots: a stale clean volatile slot must not outlive this open.
  if (auto s = WriteCheckpoint(active_->base(), end, expected, last_ts, false, false); !s.ok()) {
    return s;
  }
  return WriteCheckpoint(active_->base(), end, expected, last_ts, false, true);
}

absl::Status Log::WriteCheckpoint(uint64_t segment_base, uint64_t end_offset, uint64_t next_seq,
                                  double last_ts, bool clean, bool durable) {
  Checkpoint cp;
  cp.flags = clean ? kCheckpointFlagClean : 0;
  cp.segment_base = segment_base;
  cp.end_offset = end_offset;
  cp.next_sequence = next_seq;
  cp.last_timestamp = last_ts;
  cp.boot_hash = durable ? 0 : boot_hash_;
  char buf[kCheckpointSize];
  EncodeCheckpoint(cp, buf);
  return checkpoint_file_->Write(durable ? 0 : kCheckpointSize, absl::string_view(buf, sizeof(buf)));
}

absl::StatusOr<uint64_t> Log::Append(absl::string_view event) {
  thread_local PreparedEvent prepared;
  if (auto s = PrepareEvent(event, &prepared); !s.ok()) return s;
  AppendBatchResult r = AppendPrepared(absl::MakeConstSpan(&prepared, 1));
  if (!r.status.ok()) return r.status;
  return r.first_sequence;
}

AppendBatchResult Log::AppendPrepared(absl::Span<const PreparedEvent> events) {
  AppendBatchResult result;
  appenders_.fetch_add(1, std::memory_order_acq_rel);
  struct Leave {
    std::atomic<uint64_t>* n;
    ~Leave() { n->fetch_sub(1, std::memory_order_acq_rel); }
  } leave{&appenders_};
  if (failed()) {
    result.status = failed_status();
    return result;
  }
  if (options_.read_only) {
    result.status = absl::FailedPreconditionError(dir_ + ": log is open read-only");
    return result;
  }
  uint64_t last = 0;
  bool need_sync = false;
  uint64_t rolled_sync_target = 0;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (closed_) {
      result.status = absl::FailedPreconditionError(dir_ + ": log is closed");
      return result;
    }
    result.first_sequence = next_seq_;
    char* base = active_->mutable_data();
    // With pwrite appends, records of this batch are staged in write_buffer_
    // and written at write_offset_ in one call (per segment).
    auto flush = [&]() -> absl::Status {
      if (!use_pwrite_ || write_buffer_.empty()) return absl::OkStatus();
      absl::Status s = active_->file()->Write(write_offset_, write_buffer_);
      if (s.ok()) {
        write_offset_ += write_buffer_.size();
      } else {
        // Part of the batch may be in the file past write_offset_: like a
        // failed sync, this ends the log's life until it is reopened (and
        // recovery cuts the tail), so no later append can land next to it.
        s = absl::Status(s.code(), absl::StrCat(s.message(), "; the log is in a failed state "
                                                             "until it is reopened"));
        std::lock_guard<std::mutex> sl(sync_mu_);  // lock order: mu_, then sync_mu_
        if (failed_status_.ok()) failed_status_ = s;
        failed_flag_.store(true, std::memory_order_release);
      }
      write_buffer_.clear();
      return s;
    };
    size_t staged = 0;  // events staged in write_buffer_
    for (const PreparedEvent& ev : events) {
      const size_t size = RecordSize(ev.keys.size(), ev.event.size());
      if (write_offset_ + write_buffer_.size() + size > active_->size()) {
        if (auto s = flush(); !s.ok()) {
          next_seq_ -= staged;
          result.appended -= staged;
          result.status = s;
          break;
        }
        staged = 0;
        published_offset_.store(write_offset_, std::memory_order_release);
        published_seq_.store(next_seq_ - 1, std::memory_order_release);
        if (auto s = RollLocked(size); !s.ok()) {
          result.status = s;
          break;
        }
        base = active_->mutable_data();
      }
      if (use_pwrite_) {
        const size_t at = write_buffer_.size();
        write_buffer_.resize(at + size);
        EncodeRecord(write_buffer_.data() + at, next_seq_, ev.flags, ev.timestamp, ev.keys,
                     ev.event, ev.checksum);
        ++staged;
      } else {
        EncodeRecord(base + write_offset_, next_seq_, ev.flags, ev.timestamp, ev.keys, ev.event,
                     ev.checksum);
        write_offset_ += size;
      }
      unsynced_bytes_ += size;
      last_ts_ = ev.timestamp;
      ++next_seq_;
      ++result.appended;
    }
    if (result.status.ok()) {
      if (auto s = flush(); !s.ok()) {
        next_seq_ -= staged;
        result.appended -= staged;
        result.status = s;
      }
    }
    published_offset_.store(write_offset_, std::memory_order_release);
    published_seq_.store(next_seq_ - 1, std::memory_order_release);
    last = next_seq_ - 1;
    if (options_.sync.kind == SyncPolicy::Kind::kBytes && unsynced_bytes_ >= options_.sync.value) {
      need_sync = true;
    }
    if (unsynced_.size() >= 2 * kMaxUnsyncedSegments) {
      // The background syncs fell behind: this appender syncs the rolled
      // segments itself, which bounds their open descriptors.
      rolled_sync_target = rolled_target_;
    }
  }
  if (prefault_waiting_.load(std::memory_order_relaxed) &&
      published_offset_.load(std::memory_order_relaxed) + options_.prefault_bytes / 2 >
          prefaulted_to_.load(std::memory_order_relaxed)) {
    prefault_cv_.notify_one();
  }
  if (delay_waiting_.load(std::memory_order_seq_cst) && GroupComplete()) {
    delay_word_.fetch_add(1, std::memory_order_release);
    FutexWake(&delay_word_, 1);
  }
  if (rolled_sync_target > 0) {
    if (auto s = SyncThrough(rolled_sync_target); !s.ok() && result.status.ok()) result.status = s;
  }
  if (result.appended == 0) return result;
  if (options_.sync.kind == SyncPolicy::Kind::kAlways || need_sync) {
    if (auto s = SyncThrough(last); !s.ok() && result.status.ok()) result.status = s;
  }
  return result;
}

absl::Status Log::RollLocked(size_t needed) {
  const uint64_t capacity = std::max<uint64_t>(
      options_.segment_size, (kSegmentHeaderSize + needed + 4095) & ~uint64_t{4095});
  std::shared_ptr<Segment> next;
  if (write_offset_ == kSegmentHeaderSize) {
    // The active segment is empty: give it more room instead of a successor
    // (two segments cannot share a base sequence).
    auto grown = active_->Enlarge(capacity);
    if (!grown.ok()) return grown.status();
    next = *grown;
  } else {
    absl::StatusOr<std::shared_ptr<Segment>> created;
    if (import_from_ != 0 && !spares_.empty() && capacity == options_.segment_size) {
      const std::string spare = spares_.back();
      spares_.pop_back();
      created = Segment::Recycle(fs_, dir_, spare, next_seq_, capacity);
      if (created.ok()) {
        ++recycled_segments_;
      } else {
        fs_->Remove(spare).IgnoreError();
      }
    }
    if (!created.ok()) {
      created = Segment::Create(fs_, dir_, next_seq_, capacity, /*for_import=*/import_from_ != 0);
    }
    if (!created.ok()) return created.status();
    next = *created;
  }
  if (active_->recycled() && write_offset_ < active_->size()) {
    // The end marker after the last record (a zero record header): the
    // bytes after it are an older segment's.
    std::memset(active_->mutable_data() + write_offset_, 0,
                std::min<uint64_t>(kRecordHeaderSize, active_->size() - write_offset_));
  }
  const bool replaced = next->base() == active_->base();
  std::shared_ptr<Segment> rolled;  // read-only view of the segment being rolled
  if (!replaced) {
    auto ro = active_->ReadOnlyCopy();
    if (!ro.ok()) {
      const std::string path = next->path();
      next.reset();
      fs_->Remove(path).IgnoreError();  // not part of the log: no event in it
      fs_->SyncDir(dir_).IgnoreError();
      return ro.status();
    }
    rolled = *ro;
    unsynced_.push_back(RolledFile{active_->file(), next_seq_ - 1, next_seq_, last_ts_,
                                   active_->base(), write_offset_});
    rolled_target_ = next_seq_ - 1;
    rolled_unsynced_bytes_ += write_offset_;
  }
  last_roll_micros_ = absl::ToUnixMicros(absl::Now());
  // Sync the rolled segment in the background at once, except under `never`
  // during a burst: there it waits for a quiet second or for the backlog
  // bound, because syncing while the writer streams costs it ~30% (the
  // writeback competes for the two cores; bench/RESULTS.md).
  // Each pending segment holds a descriptor: the count is bounded as well.
  const bool sync_now = options_.sync.kind != SyncPolicy::Kind::kNever ||
                        rolled_unsynced_bytes_ >= options_.never_sync_backlog_bytes ||
                        unsynced_.size() >= kMaxUnsyncedSegments;
  active_ = next;
  write_offset_ = kSegmentHeaderSize;
  active_created_micros_ = absl::ToUnixMicros(absl::Now());
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    if (replaced) {
      segments_.back().segment = active_;
    } else {
      segments_.back().segment = rolled;
      segments_.push_back(SegmentRef{active_->base(), active_->path(), active_});
    }
    published_offset_.store(write_offset_, std::memory_order_release);
  }
  prefaulted_to_.store(0, std::memory_order_relaxed);
  roll_generation_.fetch_add(1, std::memory_order_acq_rel);
  prefault_cv_.notify_one();
  if (sync_now && !replaced) {
    {
      std::lock_guard<std::mutex> l(bg_mu_);
      bg_sync_requested_ = true;
    }
    bg_cv_.notify_all();
  }
  if (!replaced && options_.seal_on_roll) EnqueueSeal(rolled->base());
  return absl::OkStatus();
}

bool Log::GroupComplete() const {
  // Every appender in flight (this one included) has an unsynced event.
  const uint64_t in_flight = appenders_.load(std::memory_order_acquire);
  const uint64_t unsynced = published_seq_.load(std::memory_order_acquire) -
                            durable_atomic_.load(std::memory_order_acquire);
  return unsynced >= in_flight;
}

absl::Status Log::failed_status() {
  std::lock_guard<std::mutex> l(sync_mu_);
  return failed_status_;
}

uint64_t Log::durable_sequence() {
  std::lock_guard<std::mutex> l(sync_mu_);
  return durable_seq_;
}

absl::Status Log::Sync() {
  if (options_.read_only) return absl::OkStatus();
  return SyncThrough(published_seq_.load(std::memory_order_acquire));
}

absl::Status Log::SyncThrough(uint64_t target) {
  if (durable_atomic_.load(std::memory_order_acquire) >= target && !failed()) {
    return absl::OkStatus();
  }
  std::unique_lock<std::mutex> sl(sync_mu_);
  while (true) {
    if (!failed_status_.ok()) return failed_status_;
    if (durable_seq_ >= target) return absl::OkStatus();
    if (!sync_in_progress_) break;  // become the leader
    // A sync is running: wait for the one that covers `target`.
    const uint64_t epoch = target <= snapshot_seq_ ? sync_epoch_ : sync_epoch_ + 1;
    std::atomic<uint32_t>& word = epoch_word_[epoch % 2];
    const uint32_t seen = word.load(std::memory_order_acquire);
    ++waiting_[epoch % 2];
    sl.unlock();
    while (word.load(std::memory_order_acquire) == seen) FutexWait(&word, seen);
    sl.lock();
    --waiting_[epoch % 2];
  }
  sync_in_progress_ = true;
  const uint64_t last_group = last_group_size_;
  sl.unlock();

  if (last_group > 1) {
    // Group-commit delay (like PostgreSQL's commit_delay): the previous sync
    // covered several appenders, and the ones it just woke are about to append
    // again. Sleep until every appender in flight has its event in (the last
    // one to append wakes us) or 300 µs pass, so this sync covers them too
    // instead of every other one.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
    while (!GroupComplete()) {
      const uint32_t seen = delay_word_.load(std::memory_order_acquire);
      delay_waiting_.store(true, std::memory_order_seq_cst);
      if (GroupComplete()) break;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) break;
      FutexWaitFor(&delay_word_, seen, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    delay_waiting_.store(false, std::memory_order_relaxed);
  }

  std::shared_ptr<Segment> active;
  std::vector<RolledFile> rolled;
  uint64_t seq, end;
  double ts;
  bool sync_active;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    active = active_;
    rolled.swap(unsynced_);
    rolled_unsynced_bytes_ = 0;
    seq = next_seq_ - 1;
    end = write_offset_;
    ts = last_ts_;
    // Syncing the active segment write-protects its dirty pages, which the
    // appenders then fault on again; skip it when the rolled segments suffice.
    sync_active = rolled.empty() || target > rolled.back().last_seq;
    if (sync_active) unsynced_bytes_ = 0;
    std::lock_guard<std::mutex> s2(sync_mu_);  // lock order: mu_, then sync_mu_
    ++sync_epoch_;
    snapshot_seq_ = sync_active ? seq : rolled.back().last_seq;
  }
  absl::Status st;
  for (const auto& r : rolled) {
    st = r.file->Sync();
    if (!st.ok()) break;
  }
  if (st.ok() && sync_active) st = active->Sync();
  // Close the rolled segments' descriptors before any waiter can wake: the
  // caller of Sync() may count them.
  RolledFile last_rolled{};
  if (!rolled.empty()) last_rolled = rolled.back();
  last_rolled.file.reset();
  rolled.clear();

  sl.lock();
  sync_in_progress_ = false;
  ++syncs_done_;
  last_group_size_ = snapshot_seq_ > durable_seq_ ? snapshot_seq_ - durable_seq_ : 0;
  if (st.ok()) {
    // Best effort: a lost checkpoint only makes the next recovery scan more.
    if (sync_active) {
      durable_seq_ = std::max(durable_seq_, seq);
      WriteCheckpoint(active->base(), end, seq + 1, ts, false, true).IgnoreError();
    } else {
      const RolledFile& r = last_rolled;
      durable_seq_ = std::max(durable_seq_, r.last_seq);
      WriteCheckpoint(r.next_base, kSegmentHeaderSize, r.last_seq + 1, r.last_ts, false, true)
          .IgnoreError();
    }
  } else {
    failed_status_ = absl::Status(
        st.code(), absl::StrCat(st.message(),
                                "; the log is in a failed state until it is reopened"));
    failed_flag_.store(true, std::memory_order_release);
  }
  durable_atomic_.store(durable_seq_, std::memory_order_release);
  const uint64_t e = sync_epoch_;
  const bool failed_now = !failed_status_.ok();
  // Wake the waiters this sync covered (all of them on failure), and one
  // waiter of the next epoch to lead it.
  const bool next_leader = failed_now || waiting_[(e + 1) % 2] > 0;
  epoch_word_[e % 2].fetch_add(1, std::memory_order_release);
  if (next_leader) epoch_word_[(e + 1) % 2].fetch_add(1, std::memory_order_release);
  const absl::Status result = failed_now ? failed_status_ : absl::OkStatus();
  const bool done = durable_seq_ >= target;
  sl.unlock();
  FutexWake(&epoch_word_[e % 2], INT32_MAX);
  if (failed_now) {
    FutexWake(&epoch_word_[(e + 1) % 2], INT32_MAX);
  } else if (next_leader) {
    FutexWake(&epoch_word_[(e + 1) % 2], 1);
  }
  if (failed_now || done) return result;
  return SyncThrough(target);  // our target was beyond what this sync covered
}

void Log::BackgroundLoop() {
  pthread_setname_np(pthread_self(), "tracelog-sync");
  if (options_.sync.kind == SyncPolicy::Kind::kNever) {
    // Under `never` this thread only syncs rolled segments, which nobody
    // waits for: its writeback work must not take the CPU from the writer.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  }
  const bool interval = options_.sync.kind == SyncPolicy::Kind::kInterval;
  const auto period = std::chrono::milliseconds(interval ? options_.sync.value : 1000);
  std::unique_lock<std::mutex> l(bg_mu_);
  while (!stop_.load(std::memory_order_acquire)) {
    bg_cv_.wait_for(l, period, [&] { return stop_.load() || bg_sync_requested_; });
    if (stop_.load(std::memory_order_acquire)) break;
    const bool requested = bg_sync_requested_;
    bg_sync_requested_ = false;
    l.unlock();
    uint64_t target = 0;
    if (interval) {
      target = published_seq_.load(std::memory_order_acquire);
    } else {
      std::lock_guard<AdaptiveMutex> ml(mu_);
      const bool quiet = absl::ToUnixMicros(absl::Now()) - last_roll_micros_ >= 1000000;
      // Not during an import: its commit syncs what is left of it, and
      // most of its segments are sealed (and their raw files deleted) first.
      if (requested || (!unsynced_.empty() && quiet && import_from_ == 0)) {
        target = rolled_target_;  // only the rolled segments
      }
    }
    if (target > 0 && !failed() && target > durable_sequence()) {
      SyncThrough(target).IgnoreError();  // a failure is sticky in failed_status_
    }
    if (options_.sync.kind == SyncPolicy::Kind::kNever && !failed()) {
      // Keep process-crash recovery short without syncing: a volatile
      // checkpoint, trusted only until the next reboot.
      std::lock_guard<AdaptiveMutex> ml(mu_);
      if (!closed_) {
        WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, false, false)
            .IgnoreError();
      }
    }
    if (options_.segment_max_age_ms > 0) {
      std::lock_guard<AdaptiveMutex> ml(mu_);
      const int64_t age_ms = (absl::ToUnixMicros(absl::Now()) - active_created_micros_) / 1000;
      if (!closed_ && write_offset_ > kSegmentHeaderSize &&
          age_ms >= static_cast<int64_t>(options_.segment_max_age_ms)) {
        RollLocked(0).IgnoreError();  // retried on the next tick or append
      }
    }
    l.lock();
  }
}

void Log::PrefaultLoop() {
  pthread_setname_np(pthread_self(), "tracelog-fault");
  std::shared_ptr<Segment> seg;
  uint64_t generation = ~uint64_t{0};
  // What the writer left behind is dropped from the process's resident
  // memory in large steps (the page cache keeps it): a bulk append holds
  // about the pre-fault window resident, not the whole segment.
  const uint64_t kReleaseStep = std::max<uint64_t>(options_.prefault_bytes / 2, 1 << 20);
  uint64_t released_to = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t gen = roll_generation_.load(std::memory_order_acquire);
    if (gen != generation) {
      std::lock_guard<AdaptiveMutex> ml(mu_);
      seg = active_;
      generation = roll_generation_.load(std::memory_order_acquire);
      released_to = 0;
    }
    const uint64_t published = published_offset_.load(std::memory_order_acquire);
    if (published >= released_to + 2 * kReleaseStep) {
      seg->ReleaseResident(released_to, published - kReleaseStep - released_to);
      released_to = published - kReleaseStep;
    }
    const uint64_t from = std::max(prefaulted_to_.load(std::memory_order_relaxed), published);
    const uint64_t target = std::min(published + options_.prefault_bytes, seg->size());
    if (from < target) {
      const uint64_t n = std::min(target - from, kPrefaultChunk);
      seg->PrefaultForWrite(from, n);
      if (roll_generation_.load(std::memory_order_acquire) == generation) {
        prefaulted_to_.store(from + n, std::memory_order_relaxed);
      }
      continue;
    }
    // Caught up: sleep until the writer is half a window from the edge (or,
    // when the whole segment is faulted in, until it rolls: without that, the
    // last half window of every segment was a busy loop).
    std::unique_lock<std::mutex> l(prefault_mu_);
    prefault_waiting_.store(true, std::memory_order_seq_cst);
    const uint64_t size = seg->size();
    prefault_cv_.wait_for(l, std::chrono::milliseconds(10), [&] {
      const uint64_t done = prefaulted_to_.load();
      return stop_.load() || roll_generation_.load() != generation ||
             (done < size && published_offset_.load() + options_.prefault_bytes / 2 > done);
    });
    prefault_waiting_.store(false, std::memory_order_relaxed);
  }
}

absl::Status Log::Close() {
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is already closed");
    closed_ = true;
  }
  {
    // Set under both wait mutexes, so neither thread can miss it between
    // testing its predicate and going to sleep.
    std::lock_guard<std::mutex> l(bg_mu_);
    std::lock_guard<std::mutex> p(prefault_mu_);
    std::lock_guard<std::mutex> q(seal_mu_);
    stop_.store(true, std::memory_order_release);
  }
  bg_cv_.notify_all();
  prefault_cv_.notify_all();
  seal_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  if (prefault_thread_.joinable()) prefault_thread_.join();
  if (seal_thread_.joinable()) seal_thread_.join();
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    RemoveSparesLocked();
  }
  absl::Status st;
  if (!options_.read_only) {
    // `never` promises no fdatasync: the events are in the page cache, and a
    // volatile clean checkpoint lets the next open (before any reboot) skip
    // the scan. Every other policy syncs on close.
    const bool durable = options_.sync.kind != SyncPolicy::Kind::kNever;
    st = durable ? SyncThrough(published_seq_.load()) : failed_status();
    if (st.ok()) {
      std::lock_guard<AdaptiveMutex> l(mu_);
      st = WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, true, durable);
      if (st.ok() && durable) st = checkpoint_file_->Sync();
    }
  }
  lock_.reset();
  return st;
}

absl::Status Log::LoadRefLocked(size_t index) {
  SegmentRef& ref = segments_[index];
  if (!ref.is_sealed) {
    if (ref.segment != nullptr) return absl::OkStatus();
    auto seg = Segment::Open(fs_, ref.path, ref.base, /*writable=*/false);
    if (seg.ok()) {
      ref.segment = *seg;
      return absl::OkStatus();
    }
    // Another process (the writer) may have sealed it since we listed the
    // directory: read the sealed form instead.
    if (!absl::IsNotFound(seg.status())) return seg.status();
    auto sealed = SealedSegment::Open(fs_, dir_, ref.base, dicts_.get());
    if (!sealed.ok()) return seg.status();
    ref.is_sealed = true;
    ref.path = (*sealed)->path();
    ref.sealed = *sealed;
    return absl::OkStatus();
  }
  if (ref.sealed != nullptr) return absl::OkStatus();
  auto seg = SealedSegment::Open(fs_, dir_, ref.base, dicts_.get());
  if (!seg.ok()) return seg.status();
  ref.sealed = *seg;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Segment>> Log::SegmentForReadLocked(size_t index) {
  if (auto s = LoadRefLocked(index); !s.ok()) return s;
  if (segments_[index].is_sealed) {
    return absl::FailedPreconditionError(segments_[index].path + ": segment is sealed");
  }
  return segments_[index].segment;
}

absl::StatusOr<std::shared_ptr<SealedSegment>> Log::SealedForReadLocked(size_t index) {
  if (auto s = LoadRefLocked(index); !s.ok()) return s;
  if (!segments_[index].is_sealed) {
    return absl::FailedPreconditionError(segments_[index].path + ": segment is not sealed");
  }
  return segments_[index].sealed;
}

std::unique_ptr<LogReader> Log::NewReader(const ReaderOptions& options) {
  std::lock_guard<std::mutex> l(segments_mu_);
  return std::unique_ptr<LogReader>(
      new LogReader(this, options, removed_front_ + segments_.size(), published_seq_.load(),
                    published_offset_.load(std::memory_order_acquire)));
}

std::vector<SegmentSnapshot> Log::SnapshotSegments(const CorruptionReporter& reporter) {
  std::vector<SegmentSnapshot> out;
  std::lock_guard<std::mutex> l(segments_mu_);
  const uint64_t last_seq = published_seq_.load(std::memory_order_acquire);
  const uint64_t active_limit = published_offset_.load(std::memory_order_acquire);
  for (size_t i = 0; i < segments_.size(); ++i) {
    SegmentSnapshot snap;
    snap.base = segments_[i].base;
    const absl::Status st = LoadRefLocked(i);
    if (st.ok() && segments_[i].is_sealed) {
      snap.sealed = segments_[i].sealed;
    } else if (st.ok()) {
      snap.raw = segments_[i].segment;
      snap.limit = i + 1 == segments_.size() ? active_limit : snap.raw->size();
      snap.last_sequence = last_seq;
    }
    if (!st.ok()) {
      if (reporter) reporter(Corruption{segments_[i].path, 0, 0, std::string(st.message())});
      continue;
    }
    out.push_back(std::move(snap));
  }
  return out;
}

void Log::EnqueueSeal(uint64_t base) {
  {
    std::lock_guard<std::mutex> l(seal_mu_);
    seal_queue_.push_back(base);
  }
  seal_cv_.notify_one();
}

void Log::SealLoop() {
  pthread_setname_np(pthread_self(), "tracelog-seal");
  // Sealing is background work: appenders come first (LogOptions::seal_nice).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.seal_nice);
  BlockCodec codec;
  std::unique_lock<std::mutex> l(seal_mu_);
  while (true) {
    seal_cv_.wait(l, [&] { return stop_.load() || !seal_queue_.empty(); });
    if (stop_.load(std::memory_order_acquire)) break;
    const uint64_t base = seal_queue_.front();
    seal_queue_.pop_front();
    if (std::find(seal_failed_.begin(), seal_failed_.end(), base) != seal_failed_.end()) continue;
    l.unlock();
    // A segment another thread is sealing (an importer helping, SealAll) is
    // left to it: waiting for it would idle this core while others queue.
    bool busy = false;
    const absl::Status s = SealOne(base, &codec, &busy);
    l.lock();
    // A failure leaves the raw segment authoritative; the next process that
    // opens the log for writing (or SealAll) tries again.
    if (!s.ok()) seal_failed_.push_back(base);
  }
}

absl::Status Log::SealOne(uint64_t base, BlockCodec* codec, bool* busy) {
  std::shared_lock<std::shared_mutex> w(seal_work_mu_);
  std::shared_ptr<Segment> raw;
  std::string raw_path;
  {
    std::unique_lock<std::mutex> l(segments_mu_);
    // Another thread sealing it: wait for that one (the caller may promise
    // the segment is durable when this returns), or say so.
    auto free = [&] { return std::find(sealing_.begin(), sealing_.end(), base) == sealing_.end(); };
    if (busy != nullptr && !free()) {
      *busy = true;
      return absl::OkStatus();
    }
    seal_done_cv_.wait(l, free);
    size_t i = 0;
    while (i < segments_.size() && segments_[i].base != base) ++i;
    if (i + 1 >= segments_.size() || segments_[i].is_sealed) {
      return absl::OkStatus();  // sealed meanwhile, or the active segment
    }
    auto seg = SegmentForReadLocked(i);
    if (!seg.ok()) return seg.status();
    raw = *seg;
    raw_path = segments_[i].path;
    sealing_.push_back(base);
  }
  auto done = [&] {
    {
      std::lock_guard<std::mutex> l(segments_mu_);
      sealing_.erase(std::find(sealing_.begin(), sealing_.end(), base));
    }
    seal_done_cv_.notify_all();
  };
  SealOptions seal = options_.seal;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    seal.drop_cache = import_from_ != 0 && base >= import_from_;  // SealOptions::drop_cache
  }
  auto stats = SealSegment(fs_, dir_, *raw, seal, dicts_.get(), codec);
  if (!stats.ok()) {
    done();
    return stats.status();
  }
  auto sealed = SealedSegment::Open(fs_, dir_, base, dicts_.get());
  if (!sealed.ok()) {
    done();
    return sealed.status();  // the raw segment stays authoritative
  }
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    for (SegmentRef& ref : segments_) {
      if (ref.base != base) continue;
      ref.is_sealed = true;
      ref.path = (*sealed)->path();
      ref.segment.reset();  // readers that hold it keep its mapping
      ref.sealed = *sealed;
    }
  }
  done();
  std::string spare;  // the raw file's new name, if it is kept for the import
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (import_from_ != 0 && base >= import_from_ && spares_.size() < kMaxSpares &&
        raw->size() == options_.segment_size) {
      spare = JoinPath(dir_, absl::StrCat("spare-", spare_names_++, ".seg.tmp"));
    }
  }
  if (!spare.empty() && fs_->Rename(raw_path, spare).ok()) {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (import_from_ != 0) {
      spares_.push_back(spare);
    } else {
      fs_->Remove(spare).IgnoreError();  // committed meanwhile
    }
  } else if (auto s = fs_->Remove(raw_path); !s.ok()) {
    return s;
  }
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;
  // Durable as a sealed segment now: a later sync need not write the raw
  // file's pages back (under `never`, an import's commit would otherwise
  // write every raw segment to disk just before they are deleted).
  std::lock_guard<AdaptiveMutex> l(mu_);
  for (auto it = unsynced_.begin(); it != unsynced_.end(); ++it) {
    if (it->base != base) continue;
    rolled_unsynced_bytes_ -= std::min(rolled_unsynced_bytes_, it->bytes);
    unsynced_.erase(it);
    break;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::BeginImport() {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  if (failed()) return failed_status();
  std::lock_guard<AdaptiveMutex> l(mu_);
  if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
  if (import_from_ != 0) {
    return absl::FailedPreconditionError(absl::StrCat(dir_, ": an import from sequence ",
                                                      import_from_, " is in progress"));
  }
  if (write_offset_ > kSegmentHeaderSize) {
    if (auto s = RollLocked(0); !s.ok()) return s;
  }
  const uint64_t from = next_seq_;
  if (auto s = WriteFileAtomically(fs_, dir_, JoinPath(dir_, kImportMarkerFileName),
                                   EncodeImportMarker(from));
      !s.ok()) {
    return s;
  }
  import_from_ = from;
  return from;
}

absl::Status Log::CommitImport(bool* committed) {
  if (committed != nullptr) *committed = false;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (import_from_ == 0) return absl::FailedPreconditionError(dir_ + ": no import in progress");
  }
  {
    // After the commit the active segment may be appended to and recovered
    // like any other: a recycled one gets a zero tail, as a new one has.
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (active_->recycled()) {
      if (auto s = active_->ZeroTail(write_offset_); !s.ok()) return s;
    }
  }
  // Durable whatever the policy: the import is acknowledged as a whole.
  if (auto s = SyncThrough(published_seq_.load(std::memory_order_acquire)); !s.ok()) return s;
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;  // its pack's rename, its segments
  if (auto s = fs_->Remove(JoinPath(dir_, kImportMarkerFileName)); !s.ok()) return s;
  // Committed: the import is the log's now, whether or not the sync works.
  if (committed != nullptr) *committed = true;
  const absl::Status synced = fs_->SyncDir(dir_);
  std::lock_guard<AdaptiveMutex> l(mu_);
  import_from_ = 0;
  RemoveSparesLocked();
  return synced;
}

absl::Status Log::SealBacklog(size_t keep, BlockCodec* codec) {
  if (options_.read_only || failed()) return absl::OkStatus();
  while (true) {
    std::vector<uint64_t> failed_bases;  // not tried again
    {
      std::lock_guard<std::mutex> l(seal_mu_);
      failed_bases = seal_failed_;
    }
    uint64_t oldest = 0;
    {
      std::lock_guard<std::mutex> l(segments_mu_);
      size_t waiting = 0;
      for (size_t i = 0; i + 1 < segments_.size(); ++i) {
        const uint64_t b = segments_[i].base;
        if (segments_[i].is_sealed ||
            std::find(sealing_.begin(), sealing_.end(), b) != sealing_.end() ||
            std::find(failed_bases.begin(), failed_bases.end(), b) != failed_bases.end()) {
          continue;
        }
        if (waiting++ == 0) oldest = b;
      }
      if (waiting <= keep) return absl::OkStatus();
      // While another thread trains the log's first dictionary, a segment
      // sealed here would wait for it: the caller goes on writing instead,
      // up to two more segments.
      if (dicts_->training() && waiting <= keep + 2) return absl::OkStatus();
    }
    bool busy = false;
    if (auto s = SealOne(oldest, codec, &busy); !s.ok()) {
      std::lock_guard<std::mutex> l(seal_mu_);
      seal_failed_.push_back(oldest);
      return s;
    }
  }
}

void Log::RemoveSparesLocked() {
  for (const std::string& spare : spares_) fs_->Remove(spare).IgnoreError();
  spares_.clear();
}

absl::Status Log::SealAll() {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  if (failed()) return failed_status();
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
    if (write_offset_ > kSegmentHeaderSize) {
      if (auto s = RollLocked(0); !s.ok()) return s;
    }
  }
  std::vector<uint64_t> bases;
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    for (size_t i = 0; i + 1 < segments_.size(); ++i) {
      if (!segments_[i].is_sealed) bases.push_back(segments_[i].base);
    }
  }
  // On every core: sealing is CPU-bound (zstd), one segment per thread.
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  absl::Status first_error;
  std::vector<uint64_t> deferred;  // being sealed by the background sealer: waited for last
  auto work = [&] {
    BlockCodec codec;
    for (size_t k; (k = next.fetch_add(1)) < bases.size();) {
      {
        std::lock_guard<std::mutex> l(err_mu);
        if (!first_error.ok()) return;  // the first error stops it
      }
      bool busy = false;
      absl::Status s = SealOne(bases[k], &codec, &busy);
      std::lock_guard<std::mutex> l(err_mu);
      if (busy) deferred.push_back(bases[k]);
      if (!s.ok() && first_error.ok()) first_error = s;
    }
  };
  // The background sealer (if it runs) is one of the cores: it seals
  // what it has queued meanwhile. Each seal maps a whole raw segment, so
  // this also bounds the memory sealing holds.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned busy = seal_thread_.joinable() ? 2 : 1;
  const unsigned helpers = std::min<unsigned>(
      cores > busy ? cores - busy : 0, static_cast<unsigned>(bases.size() > 1 ? bases.size() - 1 : 0));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < helpers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  BlockCodec codec;
  for (uint64_t base : deferred) {
    if (!first_error.ok()) break;
    first_error = SealOne(base, &codec);  // waits for the other sealer, then checks
  }
  return first_error;
}

absl::StatusOr<RetainResult> Log::Retain(const RetainOptions& options) {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  std::unique_lock<std::shared_mutex> w(seal_work_mu_);  // no segment changes form meanwhile
  const double now = options.now > 0 ? options.now : absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  struct Entry {
    std::shared_ptr<SealedSegment> sealed;  // null for a raw segment
    uint64_t bytes = 0;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    for (size_t i = 0; i < segments_.size(); ++i) {
      Entry e;
      if (segments_[i].is_sealed) {
        auto seg = SealedForReadLocked(i);
        if (!seg.ok()) return seg.status();
        e.sealed = *seg;
        e.bytes = (*seg)->file_size();
        if (auto f = fs_->Open((*seg)->index_path(), OpenMode::kRead); f.ok()) {
          if (auto n = (*f)->Size(); n.ok()) e.bytes += *n;
        }
      } else if (i + 1 == segments_.size()) {
        e.bytes = published_offset_.load(std::memory_order_acquire);
      } else if (auto f = fs_->Open(segments_[i].path, OpenMode::kRead); f.ok()) {
        if (auto n = (*f)->Size(); n.ok()) e.bytes = *n;
      }
      total += e.bytes;
      entries.push_back(std::move(e));
    }
  }
  // Oldest first, and only a prefix of sealed segments: the log stays a
  // gap-free range of sequences.
  BlockCodec codec;
  size_t remove = 0;
  if (options.max_age_seconds > 0) {
    while (remove < entries.size() && entries[remove].sealed != nullptr) {
      auto index = entries[remove].sealed->Index(&codec, /*with_sessions=*/false);
      if (!index.ok()) return index.status();
      bool any = false;
      double newest = 0;
      for (const BlockSummary& b : (*index)->blocks) {
        if (!b.has_timestamp) continue;
        newest = any ? std::max(newest, b.max_timestamp) : b.max_timestamp;
        any = true;
      }
      if (!any || newest >= now - options.max_age_seconds) break;
      total -= entries[remove].bytes;
      ++remove;
    }
  }
  while (options.max_bytes > 0 && total > options.max_bytes && remove < entries.size() &&
         entries[remove].sealed != nullptr) {
    total -= entries[remove].bytes;
    ++remove;
  }
  RetainResult result;
  absl::Status st;
  for (size_t i = 0; i < remove && st.ok(); ++i) {
    const SealedSegment& seg = *entries[i].sealed;
    {
      std::lock_guard<std::mutex> l(segments_mu_);
      segments_.erase(segments_.begin());
      ++removed_front_;
    }
    // The data first: a crash between the two leaves an orphan index, which
    // the next open removes.
    st = fs_->Remove(seg.path());
    if (st.ok()) {
      if (auto s = fs_->Remove(seg.index_path()); !s.ok() && !absl::IsNotFound(s)) st = s;
    }
    result.removed.push_back(seg.path());
    result.removed_events += seg.header().event_count;
    result.removed_bytes += entries[i].bytes;
  }
  if (auto s = fs_->SyncDir(dir_); st.ok()) st = s;
  if (!st.ok()) return st;
  result.bytes_after = total;
  return result;
}

LogStats Log::Stats() {
  LogStats st;
  struct File {
    std::string path;
    std::string index_path;
    bool active;
  };
  std::vector<File> files;
  std::shared_ptr<SealedSegment> first_sealed;
  std::shared_ptr<Segment> first_raw;
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    st.segments = segments_.size();
    st.last_sequence = published_seq_.load();
    st.active_used_bytes = published_offset_.load();
    if (!segments_.empty()) st.first_sequence = segments_.front().base;
    for (size_t i = 0; i < segments_.size(); ++i) {
      const SegmentRef& ref = segments_[i];
      if (ref.is_sealed) ++st.sealed_segments;
      files.push_back(File{ref.path, ref.is_sealed ? JoinPath(dir_, IndexFileName(ref.base)) : "",
                           !ref.is_sealed && i + 1 == segments_.size()});
    }
    if (!segments_.empty()) {
      if (segments_[0].is_sealed) {
        if (auto s = SealedForReadLocked(0); s.ok()) first_sealed = *s;
      } else if (auto s = SegmentForReadLocked(0); s.ok()) {
        first_raw = *s;
      }
    }
  }
  if (st.first_sequence == 0 || st.last_sequence < st.first_sequence) {
    st.first_sequence = st.last_sequence = 0;
  } else {
    st.events = st.last_sequence - st.first_sequence + 1;
  }
  auto size_of = [&](const std::string& p) -> uint64_t {
    if (p.empty()) return 0;
    if (auto f = fs_->Open(p, OpenMode::kRead); f.ok()) {
      if (auto size = (*f)->Size(); size.ok()) return *size;
    }
    return 0;
  };
  for (const File& f : files) {
    const uint64_t size = size_of(f.path);
    st.disk_bytes += size;
    st.stored_bytes += (f.active ? std::min(size, st.active_used_bytes) : size) +
                       size_of(f.index_path);
  }
  if (auto dict = dicts_->Current(); dict.ok() && *dict != nullptr) {
    st.stored_bytes += kDictHeaderSize + (*dict)->bytes().size();
  }
  if (st.events > 0) {
    RecordView rec;
    if (first_raw != nullptr &&
        DecodeRecord(first_raw->contents(), kSegmentHeaderSize, &rec) == RecordStatus::kOk) {
      st.first_timestamp = rec.timestamp;
    } else if (first_sealed != nullptr) {
      BlockCodec codec;
      if (auto index = first_sealed->Index(&codec, /*with_sessions=*/false); index.ok()) {
        for (const BlockSummary& b : (*index)->blocks) {
          if (b.has_timestamp && (st.first_timestamp == 0 || b.min_timestamp < st.first_timestamp)) {
            st.first_timestamp = b.min_timestamp;
          }
        }
      }
    }
    std::lock_guard<AdaptiveMutex> l(mu_);
    st.last_timestamp = last_ts_;
    st.recycled_segments = recycled_segments_;
  }
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    st.durable_sequence = durable_seq_;
    st.syncs = syncs_done_;
  }
  return st;
}

}  // namespace tracelog
