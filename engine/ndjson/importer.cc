#include "engine/ndjson/importer.h"


#include <algorithm>
#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/attachment_format.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/format/utf8.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/ndjson/line_reader.h"
#include "engine/ndjson/source_tree.h"
#include "engine/query/query.h"
#include "engine/seal/block_codec.h"

namespace tracelog {

namespace {

// Offset of the first byte of `s` that is not part of well-formed UTF-8, or
// npos.
size_t FirstInvalidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return i;
    i += n;
  }
  return absl::string_view::npos;
}

// Reads `in` from its current offset to its end in pieces of `buf`'s size,
// calling `fn` with each.
absl::Status ReadPieces(SequentialFile* in, std::string* buf,
                        const std::function<absl::Status(absl::string_view)>& fn) {
  while (true) {
    auto n = in->Read(buf->data(), buf->size());
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::OkStatus();
    if (auto s = fn(absl::string_view(buf->data(), *n)); !s.ok()) return s;
  }
}

// "at column N" in an extractor message, as "line L, column C" of `text`.
std::string WhereInText(absl::string_view text, absl::string_view message) {
  const size_t at = message.find("at column ");
  uint64_t column = 0;
  if (at == absl::string_view::npos) return std::string(message);
  absl::string_view digits = message.substr(at + 10);
  digits = digits.substr(0, digits.find_first_not_of("0123456789"));
  if (!absl::SimpleAtoi(digits, &column) || column == 0 || column > text.size() + 1) {
    return std::string(message);
  }
  const absl::string_view before = text.substr(0, column - 1);
  const size_t line = std::count(before.begin(), before.end(), '\n') + 1;
  const size_t nl = before.rfind('\n');
  const size_t col = nl == absl::string_view::npos ? column : column - 1 - nl;
  return absl::StrCat("line ", line, ", column ", col, ": ",
                      absl::StrCat(message.substr(0, at), message.substr(at + 10 + digits.size())));
}

// The events a stream import does not add again: those the log held when
// the import began, by session_id and event_id (ImportNdjsonStream).
// Found through the session index, and only for the sessions the stream
// names that the log held then (its catalog, read once before anything is
// appended): the event ids of such a session are loaded the first time the
// stream names it, with one query per read chunk for all the sessions the
// chunk brings. A new session costs a hash lookup.
class PresentEvents {
 public:
  explicit PresentEvents(Log* log) : engine_(log) {}

  // Reads the catalog. Damage met is noted in *problems: events in a
  // damaged range cannot be seen, and are imported again.
  absl::Status Start(std::vector<std::string>* problems) {
    auto catalog = engine_.Catalog(Reporter(problems));
    if (!catalog.ok()) return catalog.status();
    for (CatalogEntry& e : *catalog) held_.insert(std::move(e.id));
    return absl::OkStatus();
  }

  // Notes the session of an event of the chunk being read.
  void See(absl::string_view session) {
    if (seen_.contains(session)) return;
    seen_.emplace(session);
    if (held_.contains(session)) pending_.emplace_back(session);
  }

  // Loads the event ids of the sessions noted since the last call that the
  // log held.
  absl::Status Load(std::vector<std::string>* problems) {
    if (pending_.empty()) return absl::OkStatus();
    Query q;
    q.sessions = std::move(pending_);
    pending_.clear();
    for (const std::string& session : q.sessions) ids_.try_emplace(session);
    EventKeyExtractor extractor;
    auto n = engine_.Run(
        q,
        [&](uint64_t, absl::string_view event) {
          EventKeys keys;
          if (extractor.Extract(event, &keys, /*validate=*/false).ok() && !keys.event_id.empty()) {
            auto it = ids_.find(keys.session_id);
            if (it != ids_.end()) it->second.emplace(keys.event_id);
          }
          return true;
        },
        nullptr, Reporter(problems));
    return n.status();
  }

  // Whether the log held this event when the import began. An event
  // without an event_id is never recognised.
  bool Contains(absl::string_view session, absl::string_view event_id) const {
    if (event_id.empty()) return false;
    auto it = ids_.find(session);
    return it != ids_.end() && it->second.contains(event_id);
  }

  // No session the log held has been named yet: nothing to skip.
  bool none() const { return ids_.empty(); }
  size_t sessions_seen() const { return seen_.size(); }

 private:
  static CorruptionReporter Reporter(std::vector<std::string>* problems) {
    return [problems](const Corruption& c) {
      problems->push_back(absl::StrCat(c.ToString(),
                                       ": damage met while looking for the events the log already "
                                       "holds (the stream's events that were there are imported "
                                       "again)"));
    };
  }

  QueryEngine engine_;
  absl::flat_hash_set<std::string> held_;  // sessions the log held when the import began
  absl::flat_hash_set<std::string> seen_;  // sessions the stream named so far
  std::vector<std::string> pending_;       // seen, held, ids not loaded yet
  // Event ids of the held sessions the stream named.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> ids_;
};

class Importer {
 public:
  Importer(Log* log, const ImportOptions& options) : log_(log), options_(options) {}

  absl::StatusOr<ImportReport> Directory(uint64_t first_sequence, const std::string& src) {
    auto existing = AttachmentStore::Load(log_->file_system(), log_->dir());
    if (!existing.ok()) return existing.status();
    existing_ = std::move(*existing);
    auto pack = AttachmentPackWriter::Create(log_->file_system(), log_->dir(), first_sequence);
    if (!pack.ok()) return pack.status();
    pack_ = std::move(*pack);
    FileSystem* const fs = options_.fs != nullptr ? options_.fs : DefaultFileSystem();
    auto tree = WalkSourceTree(fs, src, &report_.problems);
    if (!tree.ok()) return tree.status();
    if (options_.after_walk) options_.after_walk();
    progress_.files_total = tree->files;
    progress_.bytes_total = tree->bytes;
    std::vector<const SourceFile*> order;  // the order in which the loops below read them
    for (const SourceSession& s : tree->sessions) {
      for (const SourceFile& f : s.files) order.push_back(&f);
    }
    for (const SourceFile& f : tree->root_files) order.push_back(&f);
    files_ = std::make_unique<FileQueue>(tree->root.get(), std::move(order));
    piece_.resize(options_.read_chunk);
    for (const SourceSession& s : tree->sessions) {
      if (auto st = Session(s); !st.ok()) return st;
    }
    const auto& stored_root = existing_->RootFiles();
    for (const SourceFile& f : tree->root_files) {
      auto it = stored_root.find(f.rel);
      if (auto st = Attach(AttachKind::kRootFile, "", f,
                           it == stored_root.end() ? nullptr : &it->second);
          !st.ok()) {
        return st;
      }
    }
    if (auto st = pack_->Finish(); !st.ok()) return st;
    Progress(true);
    return report_;
  }

  absl::StatusOr<ImportReport> Stream(SequentialFile* in) {
    const std::string& what = in->path();
    PresentEvents present(log_);
    if (auto s = present.Start(&report_.problems); !s.ok()) return s;
    std::vector<PreparedEvent> batch;
    absl::Status failed;
    absl::Status read = lines_.ForEach(in, [&](const std::vector<NdjsonLine>& lines) {
      size_t n = 0;
      for (const NdjsonLine& line : lines) {
        report_.bytes += line.text.size() + (line.terminated ? 1 : 0);
        if (IsBlankLine(line.text)) continue;
        if (n == batch.size()) batch.emplace_back();
        absl::Status s = CheckEvent(line.text, &batch[n]);
        if (!s.ok()) {
          const std::string problem = absl::StrCat(what, ":", line.number, ": ", s.message());
          if (!options_.skip_bad_lines) {
            failed = absl::InvalidArgumentError(problem);
            return false;
          }
          ++report_.bad_lines;
          report_.problems.push_back(problem);
          continue;
        }
        EventKeys keys;
        if (DecodeKeys(batch[n].keys, &keys)) present.See(keys.session_id);
        ++n;
      }
      if (absl::Status s = present.Load(&report_.problems); !s.ok()) {
        failed = s;
        return false;
      }
      n = DropPresent(present, &batch, n);
      AppendBatchResult r = log_->AppendPrepared(absl::MakeConstSpan(batch.data(), n));
      HelpSeal();
      report_.events += r.appended;
      progress_.events = report_.events;
      progress_.bytes = report_.bytes;
      Progress(false);
      if (!r.status.ok()) {
        failed = r.status;
        return false;
      }
      return true;
    }, options_.read_chunk);
    if (!read.ok()) return read;
    if (!failed.ok()) return failed;
    report_.sessions = present.sessions_seen();
    Progress(true);
    return report_;
  }

 private:
  // Moves the events of (*batch)[0, n) that the log held out of the way,
  // keeping the order of the others; returns how many are kept.
  size_t DropPresent(const PresentEvents& present, std::vector<PreparedEvent>* batch, size_t n) {
    if (present.none()) return n;
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      EventKeys keys;
      if (DecodeKeys((*batch)[i].keys, &keys) && present.Contains(keys.session_id, keys.event_id)) {
        ++report_.skipped_present;
        continue;
      }
      if (kept != i) std::swap((*batch)[kept], (*batch)[i]);
      ++kept;
    }
    return kept;
  }

  // Prepares an event line; the error says why it is not one.
  absl::Status CheckEvent(absl::string_view line, PreparedEvent* out) {
    // simdjson checks UTF-8 as it parses; the column of a bad byte is
    // looked for only when something is wrong (and is reported first).
    absl::Status s = PrepareEvent(line, out);
    if (s.ok() && !out->invalid_utf8) return s;
    if (const size_t bad = FirstInvalidUtf8(line); bad != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at column ", bad + 1));
    }
    return s.ok() ? absl::InternalError("invalid UTF-8 not found again") : s;
  }

  absl::Status Session(const SourceSession& s) {
    ++report_.sessions;
    const auto* stored = existing_->SessionFiles(s.name);
    const EventsLayout* old = existing_->Layout(s.name);
    if (stored == nullptr && old == nullptr) ++report_.sessions_new;
    for (const SourceFile& f : s.files) {
      if (f.rel == "events.ndjson") {
        if (auto st = Events(s.name, f, old); !st.ok()) return st;
        continue;
      }
      const AttachmentStore::Entry* prev = nullptr;
      if (stored != nullptr) {
        if (auto it = stored->find(f.rel); it != stored->end()) prev = &it->second;
      }
      if (auto st = Attach(AttachKind::kSessionFile, s.name, f, prev); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  // Stores a file verbatim unless the log has the same bytes under its name.
  // Streamed through a bounded buffer, but for a session's meta.json, which
  // is checked to be a JSON object and so is read whole (agent-strace
  // itself loads it whole).
  absl::Status Attach(AttachKind kind, const std::string& session, const SourceFile& f,
                      const AttachmentStore::Entry* prev) {
    // Refused before it is read: a record's payload length is a u32.
    if (!AttachRecordFits(session.size(), f.rel.size(), f.size)) {
      return absl::InvalidArgumentError(absl::StrCat(
          f.path, ": ", f.size, " bytes; a file other than events.ndjson is stored as one "
          "attachment, of at most 4 GiB"));
    }
    auto in = files_->Next();
    if (!in.ok()) return in.status();
    CountFile(f.size);
    if (f.rel == "meta.json" && kind == AttachKind::kSessionFile) {
      AttachRecord r;
      if (auto st = ReadPieces(in->get(), &piece_,
                               [&](absl::string_view p) {
                                 r.content.append(p.data(), p.size());
                                 return absl::OkStatus();
                               });
          !st.ok()) {
        return st;
      }
      EventKeys ignored;
      EventKeyExtractor extractor;
      if (auto st = extractor.Extract(r.content, &ignored); !st.ok()) {
        const std::string problem =
            absl::StrCat(f.path, ": not a JSON object: ", WhereInText(r.content, st.message()));
        if (!options_.skip_bad_lines) return absl::InvalidArgumentError(problem);
        report_.problems.push_back(absl::StrCat(problem, " (kept verbatim)"));
      }
      if (prev != nullptr && prev->content_hash == Checksum64(r.content)) return absl::OkStatus();
      r.kind = kind;
      r.session = session;
      r.name = f.rel;
      ++report_.attachments;
      return pack_->Add(r);
    }
    if (prev != nullptr) {
      // Stored before: a pass that only hashes it, to store it again only
      // if it changed.
      Checksum64Stream sum;
      uint64_t size = 0;
      if (auto st = HashFile(in->get(), &sum, &size); !st.ok()) return st;
      if (sum.Digest() == prev->content_hash) return absl::OkStatus();
      if (auto st = (*in)->Seek(0); !st.ok()) return st;
    }
    if (auto st = pack_->BeginRecord(kind, session, f.rel); !st.ok()) return st;
    if (auto st = ReadPieces(in->get(), &piece_,
                             [&](absl::string_view p) { return pack_->AppendContent(p); });
        !st.ok()) {
      return st;
    }
    ++report_.attachments;
    return pack_->EndRecord();
  }

  // Hashes `in` from its current offset to its end: the whole file in
  // *total (and its size in *size), and, if `at_split` is given, its first
  // `split` bytes in *at_split (when it has that many; *has_split says
  // whether it has).
  absl::Status HashFile(SequentialFile* in, Checksum64Stream* total, uint64_t* size,
                        uint64_t split = 0, Checksum64Stream* at_split = nullptr,
                        bool* has_split = nullptr) {
    *size = 0;
    bool split_seen = at_split == nullptr || split == 0;
    if (has_split != nullptr) *has_split = split_seen;
    return ReadPieces(in, &piece_, [&](absl::string_view p) {
      if (!split_seen && *size + p.size() >= split) {
        const size_t head = static_cast<size_t>(split - *size);
        total->Update(p.substr(0, head));
        *at_split = *total;
        split_seen = true;
        if (has_split != nullptr) *has_split = true;
        total->Update(p.substr(head));
      } else {
        total->Update(p);
      }
      *size += p.size();
      return absl::OkStatus();
    });
  }

  // The lines of a session's events.ndjson, streamed (memory: a chunk and
  // the longest line), hashed as they are read for the re-import rule.
  absl::Status Events(const std::string& session, const SourceFile& f, const EventsLayout* old) {
    auto opened = files_->Next();
    if (!opened.ok()) return opened.status();
    SequentialFile* const in = opened->get();
    EventsLayout layout;
    uint64_t from = 0;      // offset where new lines begin
    Checksum64Stream sum;   // of the file's bytes up to `from`, then of all
    uint64_t seen_bytes = 0, seen_hash = 0;  // of the file, by the first pass (old != nullptr)
    if (old != nullptr) {
      // A first pass that only hashes: unchanged, grown, or changed?
      Checksum64Stream at_old;
      bool long_enough = false;
      if (auto st = HashFile(in, &sum, &seen_bytes, old->file_bytes, &at_old, &long_enough);
          !st.ok()) {
        return st;
      }
      seen_hash = sum.Digest();
      if (seen_bytes == old->file_bytes && seen_hash == old->file_hash) {
        ++report_.sessions_unchanged;
        CountFile(f.size);
        return absl::OkStatus();
      }
      const bool grown = seen_bytes > old->file_bytes && old->final_newline && long_enough &&
                         at_old.Digest() == old->file_hash;
      if (grown) {
        layout = *old;
        from = old->file_bytes;
        sum = at_old;
        ++report_.sessions_grown;
      } else if (!options_.replace) {
        return absl::FailedPreconditionError(absl::StrCat(
            f.path, ": differs from the events.ndjson imported before for session ", session,
            " (", old->file_bytes, " bytes then, ", seen_bytes,
            " now, and not just new lines at the end): import with --replace to import it "
            "again"));
      } else {
        ++report_.sessions_replaced;
        layout.superseded = old->superseded;
        layout.superseded.insert(layout.superseded.end(), old->ranges.begin(), old->ranges.end());
        sum = Checksum64Stream();
      }
      if (auto st = in->Seek(from); !st.ok()) return st;
    }
    uint64_t line = layout.lines;  // index of the next line
    uint64_t bytes = from;         // of the file read so far
    bool final_newline = true;     // so far (an empty file counts as ending with one)
    absl::Status failed;
    auto flush = [&](size_t n) -> absl::Status {
      if (n == 0) return absl::OkStatus();
      AppendBatchResult r = log_->AppendPrepared(absl::MakeConstSpan(batch_.data(), n));
      HelpSeal();
      if (r.appended > 0) {
        auto& ranges = layout.ranges;
        if (!ranges.empty() && ranges.back().first + ranges.back().second == r.first_sequence) {
          ranges.back().second += r.appended;
        } else {
          ranges.emplace_back(r.first_sequence, r.appended);
        }
      }
      report_.events += r.appended;
      progress_.events = report_.events;
      return r.status;
    };
    // Each call's lines are contiguous in the reader's buffer, each
    // followed by its "\n" (but perhaps the last): appended before the
    // buffer is reused.
    absl::Status read = lines_.ForEach(
        in,
        [&](const std::vector<NdjsonLine>& lines) {
          const NdjsonLine& last = lines.back();
          const char* begin = lines.front().text.data();
          const char* end = last.text.data() + last.text.size() + (last.terminated ? 1 : 0);
          sum.Update(absl::string_view(begin, static_cast<size_t>(end - begin)));
          bytes += static_cast<uint64_t>(end - begin);
          final_newline = last.terminated;
          size_t n = 0;
          for (const NdjsonLine& l : lines) {
            const uint64_t index = line++;
            if (IsBlankLine(l.text)) {
              layout.others.emplace_back(index, std::string(l.text));
              continue;
            }
            if (n == batch_.size()) batch_.emplace_back();
            if (absl::Status st = CheckEvent(l.text, &batch_[n]); !st.ok()) {
              const std::string problem = absl::StrCat(f.path, ":", index + 1, ": ", st.message());
              if (!options_.skip_bad_lines) {
                failed = absl::InvalidArgumentError(problem);
                return false;
              }
              ++report_.bad_lines;
              report_.problems.push_back(absl::StrCat(problem, " (kept verbatim, not an event)"));
              layout.others.emplace_back(index, std::string(l.text));
              continue;
            }
            ++n;
          }
          failed = flush(n);
          progress_.bytes = bytes_done_ + bytes;
          Progress(false);
          return failed.ok();
        },
        options_.read_chunk);
    if (!read.ok()) return read;
    if (!failed.ok()) return failed;
    if (old != nullptr && (bytes != seen_bytes || sum.Digest() != seen_hash)) {
      return absl::AbortedError(absl::StrCat(
          f.path, ": changed while it was being imported (", seen_bytes, " bytes, then ", bytes,
          "): import again"));
    }
    layout.file_bytes = bytes;
    layout.file_hash = sum.Digest();
    layout.final_newline = final_newline;  // new lines were read, or the file is empty
    layout.lines = line;
    CountFile(f.size);
    AttachRecord r;
    r.kind = AttachKind::kEventsLayout;
    r.session = session;
    r.name = "events.ndjson";
    r.content = EncodeEventsLayout(layout);
    return pack_->Add(r);
  }

  // When the background sealer falls behind (it does: parsing is faster
  // than zstd), this thread seals too, between batches: both cores
  // compress, and the import's raw segments go back to the log for reuse
  // while their pages are resident (Log::SealBacklog).
  void HelpSeal() {
    if (!options_.help_seal) return;
    log_->SealBacklog(1).IgnoreError();  // a segment left raw is sealed (or reported) later
  }

  void CountFile(uint64_t size) {
    ++progress_.files;
    bytes_done_ += size;
    report_.bytes = bytes_done_;
    progress_.bytes = bytes_done_;
    Progress(false);
  }

  void Progress(bool last) {
    if (!options_.progress) return;
    if (!last && ++calls_ % 64 != 0) return;
    options_.progress(progress_);
  }

  Log* const log_;
  const ImportOptions& options_;
  ImportReport report_;
  ImportProgress progress_;
  uint64_t bytes_done_ = 0;
  uint64_t calls_ = 0;
  std::unique_ptr<AttachmentStore> existing_;
  std::unique_ptr<AttachmentPackWriter> pack_;
  std::vector<PreparedEvent> batch_;
  std::unique_ptr<FileQueue> files_;  // of a directory import
  LineReader lines_;                  // of each events.ndjson
  std::string piece_;                 // a buffer for reading other files
};

}  // namespace

absl::StatusOr<ImportReport> ImportDirectory(Log* log, uint64_t first_sequence,
                                             const std::string& src, const ImportOptions& options) {
  Importer importer(log, options);
  return importer.Directory(first_sequence, src);
}

absl::StatusOr<ImportReport> ImportNdjsonStream(Log* log, SequentialFile* in,
                                                const ImportOptions& options) {
  Importer importer(log, options);
  return importer.Stream(in);
}

}  // namespace tracelog
