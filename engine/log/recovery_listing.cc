#include "engine/log/recovery_listing.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/format/attachment_format.h"
#include "engine/format/sealed_format.h"
#include "engine/log/attachments.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

namespace {

// The number the file name `name` starts with, for the kinds of files that
// belong to a base (.seg, .sealed, .idx, .attach, .gap), with any .tmp,
// .discarded or .damaged suffix.
std::optional<uint64_t> BaseOfName(absl::string_view n) {
  n = absl::StripSuffix(n, ".tmp");
  n = absl::StripSuffix(n, ".discarded");
  if (size_t d = n.find(".damaged"); d != absl::string_view::npos) n = n.substr(0, d);
  if (auto b = ParseSegmentFileName(n)) return b;
  if (auto b = ParseSealedFileName(n)) return b;
  if (auto b = ParseIndexFileName(n)) return b;
  if (auto b = ParseGapFileName(n)) return b;
  return ParseAttachFileName(n);
}

bool IsForensic(absl::string_view name) {
  return absl::EndsWith(name, ".discarded") || absl::StrContains(name, ".damaged");
}

bool Has(const std::vector<uint64_t>& sorted, uint64_t base) {
  return std::binary_search(sorted.begin(), sorted.end(), base);
}

// The bases of the files that may be part of the log, by kind.
struct FilesByKind {
  std::vector<uint64_t> raw, sealed, index, gaps;
};

// One listing of a log directory (ListLog).
class Lister {
 public:
  Lister(const RecoveryInput& in, RecoveryReport* report)
      : in_(in), writable_(in.writable), report_(*report) {}

  absl::StatusOr<LogListing> Run();

 private:
  std::string Path(const std::string& name) const { return JoinPath(in_.dir, name); }
  absl::Status RemoveFile(const std::string& path);
  // Renames a damaged file to *.damaged (the first such name not taken).
  absl::Status Quarantine(const std::string& path);
  // Sorts the directory's names into `files`. The files of an unfinished
  // import and those whose creation never finished are not part of the
  // log: a writer removes them, a reader skips them.
  absl::Status Classify(const std::vector<std::string>& names, FilesByKind* files);
  // Lists the sealed segments (in `kept_sealed`). Where the raw segment is
  // there too, the sealed one wins if its header is intact (the raw one is
  // then `superseded`); else it is set aside and the raw segment stays.
  absl::Status ListSealed(const FilesByKind& files, std::vector<uint64_t>* superseded,
                          std::vector<uint64_t>* kept_sealed);
  // Lists the raw segments; a writer removes the superseded ones.
  absl::Status ListRaw(const std::vector<uint64_t>& raw, const std::vector<uint64_t>& superseded);
  // A writer removes the indexes of sealed segments not kept.
  absl::Status RemoveOrphanIndexes(const std::vector<uint64_t>& index,
                                   const std::vector<uint64_t>& kept_sealed);
  // Lists the gap files, a damaged one with its damage.
  absl::Status ListGaps(const std::vector<uint64_t>& gaps);
  // Sorts the entries by base, dropping a gap beside a segment of its base.
  void SortEntries();
  // A writer's end of rolling back an import: the dictionaries it trained,
  // then its marker.
  absl::Status FinishRollback(const std::vector<std::string>& names);
  absl::Status RemoveUnusedDictionaries(const std::vector<std::string>& names);

  const RecoveryInput& in_;
  const bool writable_;
  RecoveryReport& report_;
  LogListing out_;
  bool removed_ = false;  // a file was removed: the directory is synced
};

absl::StatusOr<LogListing> Lister::Run() {
  auto names = in_.fs->ListDir(in_.dir);
  if (!names.ok()) return names.status();
  // An import in progress (or left by a process that died): its files are
  // not part of the log. A writer removes them, a reader ignores them.
  auto in_progress = ImportInProgress(in_.fs, in_.dir, *names);
  if (!in_progress.ok()) return in_progress.status();
  out_.import_marker = *in_progress;
  FilesByKind files;
  if (auto s = Classify(*names, &files); !s.ok()) return s;
  std::sort(files.raw.begin(), files.raw.end());
  std::sort(files.sealed.begin(), files.sealed.end());
  std::vector<uint64_t> superseded;  // raw segments whose sealed form is complete
  std::vector<uint64_t> kept_sealed;
  if (auto s = ListSealed(files, &superseded, &kept_sealed); !s.ok()) return s;
  if (auto s = ListRaw(files.raw, superseded); !s.ok()) return s;
  if (auto s = RemoveOrphanIndexes(files.index, kept_sealed); !s.ok()) return s;
  if (auto s = ListGaps(files.gaps); !s.ok()) return s;
  SortEntries();
  if (removed_ && writable_) {
    if (auto s = in_.fs->SyncDir(in_.dir); !s.ok()) return s;
  }
  if (out_.import_marker && writable_) {
    if (auto s = FinishRollback(*names); !s.ok()) return s;
  }
  return std::move(out_);
}

absl::Status Lister::RemoveFile(const std::string& path) {
  return RemoveRecoveredFile(in_.fs, path, &report_);
}

absl::Status Lister::Quarantine(const std::string& path) {
  std::string to = path + ".damaged";
  for (int k = 1;; ++k) {
    auto exists = in_.fs->Exists(to);
    if (!exists.ok()) return exists.status();
    if (!*exists) break;
    to = absl::StrCat(path, ".damaged.", k);
  }
  if (auto s = in_.fs->Rename(path, to); !s.ok()) return s;
  report_.quarantined.push_back(to);
  return absl::OkStatus();
}

absl::Status Lister::Classify(const std::vector<std::string>& names, FilesByKind* files) {
  const std::optional<uint64_t>& import_from = out_.import_marker;
  for (const std::string& name : names) {
    const std::optional<uint64_t> base = BaseOfName(name);
    const bool tmp = absl::EndsWith(name, ".tmp");
    if ((base && import_from && *base >= *import_from) || (import_from && tmp)) {
      if (writable_) {
        if (base && (ParseSegmentFileName(name) || ParseSealedFileName(name))) {
          // Above every sequence the import can have used (for a log
          // without a sequence lease, written before format version 4).
          out_.rolled_back_bound =
              std::max(out_.rolled_back_bound,
                       *base + std::max<uint64_t>(in_.segment_size, 64 << 20) / kMinRecordSize);
        }
        if (auto s = RemoveFile(Path(name)); !s.ok()) return s;
        removed_ = true;
      }
      continue;
    }
    if (tmp) {
      // Creation never finished: never part of the log.
      if (writable_) {
        if (auto s = RemoveFile(Path(name)); !s.ok()) return s;
        removed_ = true;
      }
      continue;
    }
    if (IsForensic(name)) continue;  // set aside earlier: never read
    if (auto b = ParseSegmentFileName(name)) {
      files->raw.push_back(*b);
    } else if (auto b = ParseSealedFileName(name)) {
      files->sealed.push_back(*b);
    } else if (auto b = ParseIndexFileName(name)) {
      files->index.push_back(*b);
    } else if (auto b = ParseGapFileName(name)) {
      files->gaps.push_back(*b);
    }
  }
  return absl::OkStatus();
}

absl::Status Lister::ListSealed(const FilesByKind& files, std::vector<uint64_t>* superseded,
                                std::vector<uint64_t>* kept_sealed) {
  for (uint64_t base : files.sealed) {
    const std::string path = Path(SealedFileName(base));
    if (Has(files.raw, base)) {
      // Both: the seal finished (a .sealed file exists only once it was
      // written, synced and read back in full) but the raw segment's removal
      // did not. The sealed form wins if its header is intact; else it is
      // set aside and the raw segment stays (and is sealed again).
      auto opened = SealedSegment::Open(in_.fs, in_.dir, base, in_.dicts);
      if (opened.ok() && (*opened)->header_status().ok()) {
        superseded->push_back(base);
      } else {
        const absl::Status why = opened.ok() ? (*opened)->header_status() : opened.status();
        if (!absl::IsDataLoss(why)) return why;  // not damage: change nothing
        report_.damage.push_back(Corruption{path, 0, kSealedHeaderSize, std::string(why.message())});
        if (writable_) {
          if (auto s = Quarantine(path); !s.ok()) return s;
          removed_ = true;
        }
        continue;
      }
    }
    kept_sealed->push_back(base);
    SegmentEntry e;
    e.base = base;
    e.path = path;
    e.kind = SegmentEntry::Kind::kSealed;
    out_.entries.push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::Status Lister::ListRaw(const std::vector<uint64_t>& raw,
                             const std::vector<uint64_t>& superseded) {
  for (uint64_t base : raw) {
    const std::string path = Path(SegmentFileName(base));
    if (Has(superseded, base)) {
      if (writable_) {
        if (auto s = RemoveFile(path); !s.ok()) return s;
        removed_ = true;
      }
      continue;
    }
    SegmentEntry e;
    e.base = base;
    e.path = path;
    out_.entries.push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::Status Lister::RemoveOrphanIndexes(const std::vector<uint64_t>& index,
                                         const std::vector<uint64_t>& kept_sealed) {
  for (uint64_t base : index) {
    if (writable_ && !Has(kept_sealed, base)) {
      if (auto s = RemoveFile(Path(IndexFileName(base))); !s.ok()) return s;
      removed_ = true;
    }
  }
  return absl::OkStatus();
}

absl::Status Lister::ListGaps(const std::vector<uint64_t>& gaps) {
  for (uint64_t base : gaps) {
    SegmentEntry e;
    e.base = base;
    e.path = Path(GapFileName(base));
    e.kind = SegmentEntry::Kind::kGap;
    auto gap = ReadGapFile(in_.fs, e.path);
    if (gap.ok()) {
      e.gap = *gap;
    } else if (absl::IsDataLoss(gap.status())) {
      e.gap_status = gap.status();
      report_.damage.push_back(Corruption{e.path, 0, kGapFileSize, std::string(gap.status().message())});
    } else {
      return gap.status();
    }
    out_.entries.push_back(std::move(e));
  }
  return absl::OkStatus();
}

void Lister::SortEntries() {
  std::vector<SegmentEntry>& entries = out_.entries;
  std::stable_sort(entries.begin(), entries.end(),
                   [](const SegmentEntry& a, const SegmentEntry& b) { return a.base < b.base; });
  // A gap file beside a segment of the same base: the segment holds events;
  // the gap cannot be right.
  for (size_t i = 0; i + 1 < entries.size();) {
    SegmentEntry& a = entries[i];
    SegmentEntry& b = entries[i + 1];
    if (a.base == b.base && (a.kind == SegmentEntry::Kind::kGap) != (b.kind == SegmentEntry::Kind::kGap)) {
      const size_t gap = a.kind == SegmentEntry::Kind::kGap ? i : i + 1;
      report_.damage.push_back(Corruption{entries[gap].path, 0, kGapFileSize,
                                          "a segment has the same base: the gap is ignored"});
      entries.erase(entries.begin() + gap);
      continue;
    }
    ++i;
  }
}

absl::Status Lister::FinishRollback(const std::vector<std::string>& names) {
  // A dictionary that no remaining sealed segment names was trained
  // during the rolled-back import (or by a seal that never finished): it
  // was made from the import's events, so it goes too (the next seal
  // trains one again). If any sealed header is unreadable, all stay.
  if (auto s = RemoveUnusedDictionaries(names); !s.ok()) return s;
  // Its files are gone (synced before): now the marker.
  if (auto s = in_.fs->Remove(Path(kImportMarkerFileName)); !s.ok()) return s;
  if (auto s = in_.fs->SyncDir(in_.dir); !s.ok()) return s;
  report_.rolled_back_import = *out_.import_marker;
  return absl::OkStatus();
}

absl::Status Lister::RemoveUnusedDictionaries(const std::vector<std::string>& names) {
  absl::flat_hash_set<uint64_t> named;
  for (const SegmentEntry& e : out_.entries) {
    if (e.kind != SegmentEntry::Kind::kSealed) continue;
    auto file = in_.fs->Open(e.path, OpenMode::kRead);
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
    if (auto s = in_.fs->Remove(Path(name)); !s.ok() && !absl::IsNotFound(s)) return s;
    removed = true;
  }
  return removed ? in_.fs->SyncDir(in_.dir) : absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogListing> ListLog(const RecoveryInput& in, RecoveryReport* report) {
  return Lister(in, report).Run();
}

absl::Status RemoveRecoveredFile(FileSystem* fs, const std::string& path,
                                 RecoveryReport* report) {
  absl::Status s = fs->Remove(path);
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  report->removed.push_back(path);
  return absl::OkStatus();
}

}  // namespace tracelog
