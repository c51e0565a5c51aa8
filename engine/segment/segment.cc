#include "engine/segment/segment.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/io/mapped_read_guard.h"

namespace tracelog {

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(FileSystem* fs, const std::string& dir,
                                                         uint64_t base, uint64_t capacity,
                                                         bool for_import) {
  const std::string path = JoinPath(dir, SegmentFileName(base));
  const std::string tmp = path + ".tmp";
  if (auto exists = fs->Exists(tmp); exists.ok() && *exists) {
    if (auto s = fs->Remove(tmp); !s.ok()) return s;  // left by an earlier crash
  }
  SegmentHeader header;
  header.base_sequence = base;
  header.capacity = capacity;
  header.created_micros = absl::ToUnixMicros(absl::Now());
  auto file = fs->Open(tmp, OpenMode::kCreateExclusive);
  if (!file.ok()) return file.status();
  auto fail = [&](absl::Status s) {
    file->reset();
    fs->Remove(tmp).IgnoreError();
    return s;
  };
  if (auto s = (*file)->Allocate(capacity); !s.ok()) return fail(s);
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(header, buf);
  if (auto s = (*file)->Write(0, absl::string_view(buf, sizeof(buf))); !s.ok()) return fail(s);
  if (!for_import) {
    if (auto s = (*file)->Sync(); !s.ok()) return fail(s);
  }
  if (auto s = fs->Rename(tmp, path); !s.ok()) return fail(s);
  // From here a failure must not leave the file behind: recovery would take
  // an empty segment with this base for part of the log.
  auto fail_renamed = [&](absl::Status s) {
    file->reset();
    fs->Remove(path).IgnoreError();
    fs->SyncDir(dir).IgnoreError();
    return s;
  };
  if (!for_import) {
    if (auto s = fs->SyncDir(dir); !s.ok()) return fail_renamed(s);
  }
  auto mapping = (*file)->Map(capacity, /*writable=*/true);
  if (!mapping.ok()) return fail_renamed(mapping.status());
  return std::shared_ptr<Segment>(
      new Segment(path, header, std::move(*file), std::move(*mapping)));
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Recycle(FileSystem* fs, const std::string& dir,
                                                          const std::string& spare_path,
                                                          uint64_t base, uint64_t capacity) {
  const std::string path = JoinPath(dir, SegmentFileName(base));
  auto file = fs->Open(spare_path, OpenMode::kReadWrite);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size != capacity) {
    return absl::FailedPreconditionError(
        absl::StrCat(spare_path, ": ", *size, " bytes, not the ", capacity, " wanted"));
  }
  SegmentHeader header;
  header.base_sequence = base;
  header.capacity = capacity;
  header.created_micros = absl::ToUnixMicros(absl::Now());
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(header, buf);
  if (auto s = (*file)->Write(0, absl::string_view(buf, sizeof(buf))); !s.ok()) return s;
  if (auto s = fs->Rename(spare_path, path); !s.ok()) return s;
  auto mapping = (*file)->Map(capacity, /*writable=*/true);
  if (!mapping.ok()) {
    fs->Remove(path).IgnoreError();
    return mapping.status();
  }
  std::shared_ptr<Segment> seg(new Segment(path, header, std::move(*file), std::move(*mapping)));
  seg->recycled_ = true;
  return seg;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(FileSystem* fs, const std::string& path,
                                                       uint64_t expected_base, bool writable) {
  auto file = fs->Open(path, writable ? OpenMode::kReadWrite : OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size < kSegmentHeaderSize) {
    return absl::DataLossError(absl::StrCat(path, ": segment header truncated (file is ", *size,
                                            " bytes)"));
  }
  auto mapping = (*file)->Map(*size, writable);
  if (!mapping.ok()) return mapping.status();
  SegmentHeader header;
  absl::Status header_status =
      FirstUnreadable((*mapping)->data(), kSegmentHeaderSize) < kSegmentHeaderSize
          ? absl::DataLossError("the header's page cannot be read (an I/O error)")
          : DecodeSegmentHeader(absl::string_view((*mapping)->data(), kSegmentHeaderSize),
                                &header);
  if (!header_status.ok()) {
    header_status = absl::DataLossError(absl::StrCat(path, ": ", header_status.message()));
  } else if (header.base_sequence != expected_base) {
    header_status = absl::DataLossError(absl::StrCat(path, ": header says base sequence ",
                                                     header.base_sequence, " at offset 16, name says ",
                                                     expected_base));
  }
  if (!header_status.ok()) {
    // The name is the base; the records say the rest.
    header = SegmentHeader{};
    header.base_sequence = expected_base;
    header.capacity = *size;
  }
  std::shared_ptr<File> keep;
  if (writable) keep = std::move(*file);
  std::shared_ptr<Segment> seg(new Segment(path, header, std::move(keep), std::move(*mapping)));
  seg->header_status_ = std::move(header_status);
  return seg;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Enlarge(uint64_t capacity) {
  if (file_ == nullptr) return absl::FailedPreconditionError(path_ + ": segment is read-only");
  if (capacity <= size()) return absl::InvalidArgumentError(path_ + ": enlarge to a smaller size");
  if (auto s = file_->Allocate(capacity); !s.ok()) return s;
  if (auto s = file_->Sync(); !s.ok()) return s;
  auto mapping = file_->Map(capacity, /*writable=*/true);
  if (!mapping.ok()) return mapping.status();
  std::shared_ptr<Segment> grown(new Segment(path_, header_, file_, std::move(*mapping)));
  grown->recycled_ = recycled_;
  grown->header_status_ = header_status_;
  return grown;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::ReadOnlyCopy() {
  if (file_ == nullptr) return absl::FailedPreconditionError(path_ + ": segment is read-only");
  auto mapping = file_->Map(size(), /*writable=*/false);
  if (!mapping.ok()) return mapping.status();
  // No descriptor: the copy is for reading; the log syncs through file().
  std::shared_ptr<Segment> copy(new Segment(path_, header_, nullptr, std::move(*mapping)));
  copy->header_status_ = header_status_;
  return copy;
}

bool Segment::Readable(uint64_t offset, uint64_t n) const {
  if (offset >= size()) return true;
  n = std::min<uint64_t>(n, size() - offset);
  return FirstUnreadable(mapping_->data() + offset, n) == n;
}

absl::Status Segment::Sync() {
  if (file_ == nullptr) return absl::FailedPreconditionError(path_ + ": segment is read-only");
  return file_->Sync();
}

absl::Status Segment::ZeroTail(uint64_t offset) {
  if (file_ == nullptr) return absl::FailedPreconditionError(path_ + ": segment is read-only");
  // Synced even when there is nothing to zero (records fill the segment):
  // callers rely on the records before `offset` being durable after it.
  if (offset < size()) {
    if (auto s = file_->ZeroRange(offset, size() - offset); !s.ok()) return s;
  }
  return file_->Sync();
}

}  // namespace tracelog
