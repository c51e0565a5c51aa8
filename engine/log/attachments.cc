#include "engine/log/attachments.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/io/atomic_file.h"

namespace tracelog {

namespace {
constexpr size_t kWriteChunk = 4 << 20;
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
    auto bytes = ReadWholeFile(fs, path);
    if (!bytes.ok()) return bytes.status();
    AttachHeader h;
    if (auto s = DecodeAttachHeader(*bytes, &h); !s.ok()) {
      report(path, 0, bytes->size(), std::string(s.message()));
      continue;
    }
    if (h.first_sequence != first || h.data_end != bytes->size()) {
      report(path, 0, bytes->size(), "header does not match the file");
      continue;
    }
    uint64_t at = kAttachHeaderSize, records = 0;
    while (at + kAttachRecordHeaderSize <= bytes->size()) {
      const uint64_t size = kAttachRecordHeaderSize + AttachPayloadSize(bytes->data() + at);
      if (size > bytes->size() - at) {
        report(path, at, bytes->size(), "attachment record runs past the end of the file");
        break;
      }
      AttachRecord r;
      if (auto s = DecodeAttachRecord(absl::string_view(*bytes).substr(at, size), &r); !s.ok()) {
        report(path, at, at + size, std::string(s.message()));
        at += size;
        continue;
      }
      Entry e{r.kind, r.session, r.name, path, at, size, Checksum64(r.content)};
      switch (r.kind) {
        case AttachKind::kSessionFile: store->files_[r.session][r.name] = std::move(e); break;
        case AttachKind::kRootFile: store->root_[r.name] = std::move(e); break;
        case AttachKind::kEventsLayout: {
          EventsLayout layout;
          if (auto s = DecodeEventsLayout(r.content, &layout); !s.ok()) {
            report(path, at, at + size, std::string(s.message()));
          } else {
            store->layouts_[r.session] = std::move(layout);
          }
          break;
        }
      }
      at += size;
      ++records;
    }
    if (at != bytes->size() || records != h.records) {
      report(path, at, bytes->size(), absl::StrCat("pack holds ", records, " readable records of ",
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

absl::StatusOr<std::string> AttachmentStore::Read(const Entry& e) const {
  auto f = fs_->Open(e.path, OpenMode::kRead);
  if (!f.ok()) return f.status();
  std::string bytes;
  if (auto s = (*f)->Read(e.offset, e.size, &bytes); !s.ok()) return s;
  AttachRecord r;
  if (auto s = DecodeAttachRecord(bytes, &r); !s.ok()) {
    return absl::DataLossError(absl::StrCat(e.path, ": record at offset ", e.offset, ": ",
                                            s.message()));
  }
  return std::move(r.content);
}

}  // namespace tracelog
