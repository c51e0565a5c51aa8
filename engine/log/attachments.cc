#include "engine/log/attachments.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/io/atomic_file.h"

namespace tracelog {

namespace {
constexpr size_t kWriteChunk = 4 << 20;
constexpr uint64_t kReadChunk = 4 << 20;
constexpr uint64_t kLoadWindow = 1 << 20;

// Reads a pack through a window of `window` bytes (0: every read goes to
// the file). Loading reads every record: most are small (a meta.json, a
// layout), and two or three preads per record made loading the packs of
// 8,000 imported sessions take ~20 ms.
class PackReader {
 public:
  PackReader(File* file, uint64_t size, uint64_t window)
      : file_(file), size_(size), window_size_(window) {}
  // As File::Read: fewer than `n` bytes at the end of the file.
  absl::Status Read(uint64_t at, uint64_t n, std::string* out) {
    if (n > window_size_) return file_->Read(at, n, out);
    if (at < start_ || at + n > start_ + window_.size()) {
      const uint64_t want = at < size_ ? std::min(window_size_, size_ - at) : 0;
      if (auto s = file_->Read(at, std::max(want, n), &window_); !s.ok()) return s;
      start_ = at;
    }
    const uint64_t from = at - start_;
    out->assign(window_, std::min<uint64_t>(from, window_.size()), n);
    return absl::OkStatus();
  }

 private:
  File* const file_;
  const uint64_t size_;
  const uint64_t window_size_;
  uint64_t start_ = 0;
  std::string window_;  // the bytes at start_
};

// The payload of the record at `at` in `reader` (its header, read by the
// caller, is `header`), read in pieces of at most kReadChunk and checked
// against the header's checksum: its kind, session and name in *kind,
// *session, *name, its content to `content` (whose error stops it and is
// returned, like an I/O error). *damage says why the record is unreadable
// (OK if it is not).
absl::Status StreamRecord(PackReader* reader, uint64_t at, absl::string_view header,
                          AttachKind* kind, std::string* session, std::string* name,
                          const std::function<absl::Status(absl::string_view)>& content,
                          absl::Status* damage) {
  uint32_t len = 0;
  uint64_t checksum = 0;
  *damage = DecodeAttachRecordHeader(header, &len, &checksum);
  if (damage->ok() && len == 0) *damage = absl::DataLossError("empty attachment record");
  Checksum64Stream sum;
  std::string piece;
  for (uint64_t done = 0; damage->ok() && done < len;) {
    const uint64_t n = std::min<uint64_t>(len - done, kReadChunk);
    if (auto s = reader->Read(at + kAttachRecordHeaderSize + done, n, &piece); !s.ok()) return s;
    if (piece.size() != n) {
      *damage = absl::DataLossError("attachment record truncated");
      break;
    }
    sum.Update(piece);
    absl::string_view part = piece;
    if (done == 0) {
      size_t prefix = 0;
      *damage = DecodeAttachPrefix(part, kind, session, name, &prefix);
      if (!damage->ok()) break;
      part.remove_prefix(prefix);
    }
    if (!part.empty()) {
      if (auto s = content(part); !s.ok()) return s;
    }
    done += n;
  }
  if (damage->ok() && sum.Digest() != checksum) {
    *damage = absl::DataLossError("attachment record checksum mismatch");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<uint64_t>> ImportInProgress(FileSystem* fs, const std::string& dir,
                                                         const std::vector<std::string>& names) {
  if (std::find(names.begin(), names.end(), kImportMarkerFileName) == names.end()) {
    return std::optional<uint64_t>();
  }
  const std::string marker = JoinPath(dir, kImportMarkerFileName);
  auto text = ReadWholeFile(fs, marker);
  if (absl::IsNotFound(text.status())) return std::optional<uint64_t>();  // committed meanwhile
  if (!text.ok()) return text.status();
  uint64_t from = 0;
  if (auto s = DecodeImportMarker(*text, &from); !s.ok()) {
    return absl::DataLossError(absl::StrCat(marker, ": ", s.message()));
  }
  return std::optional<uint64_t>(from);
}

AttachmentPackWriter::AttachmentPackWriter(FileSystem* fs, std::string dir, uint64_t first,
                                           std::unique_ptr<File> f)
    : fs_(fs),
      dir_(std::move(dir)),
      first_(first),
      tmp_path_(JoinPath(dir_, AttachFileName(first) + ".tmp")),
      file_(std::move(f)),
      offset_(kAttachHeaderSize) {}

absl::StatusOr<std::unique_ptr<AttachmentPackWriter>> AttachmentPackWriter::Create(
    FileSystem* fs, const std::string& dir, uint64_t first_sequence) {
  const std::string tmp = JoinPath(dir, AttachFileName(first_sequence) + ".tmp");
  if (auto e = fs->Exists(tmp); e.ok() && *e) fs->Remove(tmp).IgnoreError();
  auto f = fs->Open(tmp, OpenMode::kCreateExclusive);
  if (!f.ok()) return f.status();
  return std::unique_ptr<AttachmentPackWriter>(
      new AttachmentPackWriter(fs, dir, first_sequence, std::move(*f)));
}

AttachmentPackWriter::~AttachmentPackWriter() {
  if (finished_) return;
  file_.reset();
  fs_->Remove(tmp_path_).IgnoreError();
}

absl::Status AttachmentPackWriter::Append(absl::string_view bytes) {
  buffer_.append(bytes.data(), bytes.size());
  return buffer_.size() >= kWriteChunk ? Flush() : absl::OkStatus();
}

absl::Status AttachmentPackWriter::BeginRecord(AttachKind kind, absl::string_view session,
                                               absl::string_view name) {
  const std::string prefix = EncodeAttachPrefix(kind, session, name);
  record_at_ = offset_ + buffer_.size();
  record_payload_ = prefix.size();
  record_what_ = absl::StrCat(session, session.empty() ? "" : "/", name);
  record_sum_ = Checksum64Stream();
  record_sum_.Update(prefix);
  in_record_ = true;
  buffer_.append(kAttachRecordHeaderSize, '\0');  // written by EndRecord
  return Append(prefix);
}

absl::Status AttachmentPackWriter::AppendContent(absl::string_view bytes) {
  record_payload_ += bytes.size();
  if (record_payload_ > kMaxAttachPayload) {
    return absl::InvalidArgumentError(absl::StrCat(
        record_what_, ": more than 4 GiB; an attachment holds at most 4 GiB"));
  }
  record_sum_.Update(bytes);
  return Append(bytes);
}

absl::Status AttachmentPackWriter::EndRecord() {
  in_record_ = false;
  char header[kAttachRecordHeaderSize];
  EncodeAttachRecordHeader(static_cast<uint32_t>(record_payload_), record_sum_.Digest(), header);
  ++records_;
  if (record_at_ >= offset_) {  // still in the buffer (which Flush writes whole)
    std::memcpy(buffer_.data() + (record_at_ - offset_), header, sizeof(header));
    return absl::OkStatus();
  }
  return file_->Write(record_at_, absl::string_view(header, sizeof(header)));
}

absl::Status AttachmentPackWriter::Add(const AttachRecord& record) {
  if (!AttachRecordFits(record.session.size(), record.name.size(), record.content.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        record.session, record.session.empty() ? "" : "/", record.name, ": ",
        record.content.size(), " bytes; an attachment holds at most 4 GiB"));
  }
  EncodeAttachRecord(record, &buffer_);
  ++records_;
  return buffer_.size() >= kWriteChunk ? Flush() : absl::OkStatus();
}

absl::Status AttachmentPackWriter::Flush() {
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status s = file_->Write(offset_, buffer_);
  offset_ += buffer_.size();
  buffer_.clear();
  return s;
}

absl::Status AttachmentPackWriter::Finish() {
  if (in_record_) return absl::FailedPreconditionError(tmp_path_ + ": a record is unfinished");
  if (records_ == 0) {
    file_.reset();
    finished_ = true;
    return fs_->Remove(tmp_path_);
  }
  if (auto s = Flush(); !s.ok()) return s;
  AttachHeader h;
  h.first_sequence = first_;
  h.records = records_;
  h.data_end = offset_;
  char hb[kAttachHeaderSize];
  EncodeAttachHeader(h, hb);
  if (auto s = file_->Write(0, absl::string_view(hb, sizeof(hb))); !s.ok()) return s;
  if (auto s = file_->Sync(); !s.ok()) return s;
  file_.reset();
  if (auto s = fs_->Rename(tmp_path_, JoinPath(dir_, AttachFileName(first_))); !s.ok()) return s;
  finished_ = true;
  return absl::OkStatus();
}

absl::Status PruneAttachmentPack(FileSystem* fs, const std::string& dir, uint64_t first,
                                 const std::function<bool(const std::string&)>& keep_session,
                                 bool keep_roots, bool* changed) {
  *changed = false;
  const std::string path = JoinPath(dir, AttachFileName(first));
  auto file = fs->Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto file_size = (*file)->Size();
  if (!file_size.ok()) return file_size.status();
  const uint64_t size = *file_size;
  std::string buf;
  if (auto s = (*file)->Read(0, kAttachHeaderSize, &buf); !s.ok()) return s;
  AttachHeader h;
  if (!DecodeAttachHeader(buf, &h).ok() || h.first_sequence != first || h.data_end != size) {
    return absl::OkStatus();  // damaged: left as it is, for readers to report
  }
  // Every record as a byte range of the pack, and whether it stays.
  struct Range {
    uint64_t from, n;
    bool root, keep;
  };
  std::vector<Range> ranges;
  uint64_t at = kAttachHeaderSize;
  bool session_kept = false;
  PackReader reader(file->get(), size, kLoadWindow);
  std::string header;
  while (at + kAttachRecordHeaderSize <= size) {
    if (auto s = reader.Read(at, kAttachRecordHeaderSize, &header); !s.ok()) return s;
    if (header.size() < kAttachRecordHeaderSize ||
        AttachPayloadSize(header.data()) > size - at - kAttachRecordHeaderSize) {
      break;  // the damaged rest is kept as it is (below)
    }
    const uint64_t end = at + kAttachRecordHeaderSize + AttachPayloadSize(header.data());
    AttachKind kind{};
    std::string session, name;
    absl::Status bad;
    if (auto s = StreamRecord(&reader, at, header, &kind, &session, &name,
                              [](absl::string_view) { return absl::OkStatus(); }, &bad);
        !s.ok()) {
      return s;
    }
    const bool root = bad.ok() && kind == AttachKind::kRootFile;
    const bool keep = !bad.ok() || (!root && keep_session(session));
    if (keep && !root && bad.ok()) session_kept = true;
    ranges.push_back(Range{at, end - at, root, keep});
    at = end;
  }
  if (at < size) ranges.push_back(Range{at, size - at, false, true});
  // The files of the imported tree's root go with its last session.
  uint64_t dropped = 0;
  std::vector<std::pair<uint64_t, uint64_t>> kept;
  for (Range& r : ranges) {
    if (r.root) r.keep = session_kept || keep_roots;
    if (r.keep) {
      kept.emplace_back(r.from, r.n);
    } else {
      ++dropped;
    }
  }
  if (dropped == 0) return absl::OkStatus();
  *changed = true;
  if (kept.empty()) return fs->Remove(path);
  const std::string tmp = path + ".tmp";
  if (auto e = fs->Exists(tmp); e.ok() && *e) fs->Remove(tmp).IgnoreError();
  auto out = fs->Open(tmp, OpenMode::kCreateExclusive);
  if (!out.ok()) return out.status();
  auto fail = [&](absl::Status s) {
    out->reset();
    fs->Remove(tmp).IgnoreError();
    return s;
  };
  uint64_t w = kAttachHeaderSize;
  std::string piece;
  for (const auto& [from, n] : kept) {
    for (uint64_t done = 0; done < n; done += piece.size()) {
      if (auto s = (*file)->Read(from + done, std::min<uint64_t>(n - done, kReadChunk), &piece);
          !s.ok()) {
        return fail(s);
      }
      if (piece.empty()) return fail(absl::DataLossError(path + ": shorter than it was"));
      if (auto s = (*out)->Write(w, piece); !s.ok()) return fail(s);
      w += piece.size();
    }
  }
  AttachHeader nh{first, h.records - dropped, w};
  char hb[kAttachHeaderSize];
  EncodeAttachHeader(nh, hb);
  if (auto s = (*out)->Write(0, absl::string_view(hb, sizeof(hb))); !s.ok()) return fail(s);
  if (auto s = (*out)->Sync(); !s.ok()) return fail(s);
  out->reset();
  if (auto s = fs->Rename(tmp, path); !s.ok()) {
    fs->Remove(tmp).IgnoreError();
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AttachmentStore>> AttachmentStore::Load(
    FileSystem* fs, const std::string& dir, const CorruptionReporter& reporter) {
  std::unique_ptr<AttachmentStore> store(new AttachmentStore(fs));
  auto names = fs->ListDir(dir);
  if (!names.ok()) return names.status();
  auto in_progress = ImportInProgress(fs, dir, *names);
  if (!in_progress.ok()) return in_progress.status();
  // Packs from here on are not committed.
  const uint64_t import_from = in_progress->value_or(UINT64_MAX);
  std::vector<uint64_t> packs;
  for (const std::string& n : *names) {
    if (auto first = ParseAttachFileName(n); first && *first < import_from) packs.push_back(*first);
  }
  std::sort(packs.begin(), packs.end());
  auto report = [&](const std::string& path, uint64_t begin, uint64_t end, std::string why) {
    if (reporter) reporter(Corruption{path, begin, end, std::move(why)});
  };
  for (uint64_t first : packs) {
    const std::string path = JoinPath(dir, AttachFileName(first));
    auto file = fs->Open(path, OpenMode::kRead);
    if (!file.ok()) return file.status();
    auto file_size = (*file)->Size();
    if (!file_size.ok()) return file_size.status();
    const uint64_t size = *file_size;
    std::string buf;
    if (auto s = (*file)->Read(0, kAttachHeaderSize, &buf); !s.ok()) return s;
    AttachHeader h;
    if (auto s = DecodeAttachHeader(buf, &h); !s.ok()) {
      report(path, 0, size, std::string(s.message()));
      continue;
    }
    if (h.first_sequence != first || h.data_end != size) {
      report(path, 0, size, "header does not match the file");
      continue;
    }
    // Record by record, each payload in pieces of at most kReadChunk: a
    // pack holding a large file is never read whole.
    uint64_t at = kAttachHeaderSize, records = 0;
    PackReader reader(file->get(), size, kLoadWindow);
    std::string header;
    while (at + kAttachRecordHeaderSize <= size) {
      if (auto s = reader.Read(at, kAttachRecordHeaderSize, &header); !s.ok()) return s;
      if (header.size() < kAttachRecordHeaderSize) {
        report(path, at, size, "attachment record truncated");
        break;
      }
      const uint64_t len = AttachPayloadSize(header.data());
      if (len > size - at - kAttachRecordHeaderSize) {
        report(path, at, size, "attachment record runs past the end of the file");
        break;
      }
      const uint64_t end = at + kAttachRecordHeaderSize + len;
      Checksum64Stream content_sum;
      AttachKind kind{};
      std::string session, name, content;  // content: of a layout only
      absl::Status bad;
      if (auto s = StreamRecord(&reader, at, header, &kind, &session, &name,
                                [&](absl::string_view part) {
                                  content_sum.Update(part);
                                  if (kind == AttachKind::kEventsLayout) {
                                    content.append(part.data(), part.size());
                                  }
                                  return absl::OkStatus();
                                },
                                &bad);
          !s.ok()) {
        return s;
      }
      if (!bad.ok()) {
        report(path, at, end, std::string(bad.message()));
        at = end;
        ++records;  // delimited, though unreadable: reported once, here
        continue;
      }
      Entry e{kind, session, name, path, at, end - at, content_sum.Digest()};
      switch (kind) {
        case AttachKind::kSessionFile: store->files_[session][name] = std::move(e); break;
        case AttachKind::kRootFile: store->root_[name] = std::move(e); break;
        case AttachKind::kEventsLayout: {
          EventsLayout layout;
          if (auto s = DecodeEventsLayout(content, &layout); !s.ok()) {
            report(path, at, end, std::string(s.message()));
          } else {
            store->layouts_[session] = std::move(layout);
          }
          break;
        }
      }
      at = end;
      ++records;
    }
    if (at != size || records != h.records) {
      report(path, at, size, absl::StrCat("pack holds ", records, " records where its header says ",
                                          h.records));
    }
  }
  return store;
}

const std::map<std::string, AttachmentStore::Entry>* AttachmentStore::SessionFiles(
    const std::string& session) const {
  auto it = files_.find(session);
  return it == files_.end() ? nullptr : &it->second;
}

const EventsLayout* AttachmentStore::Layout(const std::string& session) const {
  auto it = layouts_.find(session);
  return it == layouts_.end() ? nullptr : &it->second;
}

std::vector<std::string> AttachmentStore::Sessions() const {
  std::vector<std::string> out;
  for (const auto& [s, f] : files_) out.push_back(s);
  for (const auto& [s, l] : layouts_) out.push_back(s);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status AttachmentStore::ReadTo(
    const Entry& e, const std::function<absl::Status(absl::string_view)>& sink) const {
  auto f = fs_->Open(e.path, OpenMode::kRead);
  if (!f.ok()) return f.status();
  std::string header;
  if (auto s = (*f)->Read(e.offset, kAttachRecordHeaderSize, &header); !s.ok()) return s;
  absl::Status damage;
  if (header.size() < kAttachRecordHeaderSize || e.size < kAttachRecordHeaderSize ||
      AttachPayloadSize(header.data()) != e.size - kAttachRecordHeaderSize) {
    damage = absl::DataLossError("attachment record length does not match");
  } else {
    AttachKind kind;
    std::string session, name;
    PackReader reader(f->get(), e.offset + e.size, /*window=*/0);
    if (auto s = StreamRecord(&reader, e.offset, header, &kind, &session, &name, sink, &damage);
        !s.ok()) {
      return s;
    }
  }
  if (!damage.ok()) {
    return absl::DataLossError(
        absl::StrCat(e.path, ": record at offset ", e.offset, ": ", damage.message()));
  }
  return absl::OkStatus();
}

}  // namespace tracelog
