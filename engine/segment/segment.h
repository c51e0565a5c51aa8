#ifndef TRACELOG_ENGINE_SEGMENT_SEGMENT_H_
#define TRACELOG_ENGINE_SEGMENT_SEGMENT_H_

// One segment file, memory-mapped. Reads of any segment go through the
// mapping. A writable segment keeps its file descriptor for Sync(); a
// read-only one closes it right after mapping, so the number of descriptors
// the log holds does not grow with the number of segments.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/format/segment_format.h"
#include "engine/io/file_system.h"

namespace tracelog {

class Segment {
 public:
  // Creates dir/SegmentFileName(base) crash-safely: header and reserved space
  // go into a temporary file that is synced, renamed into place, and the
  // directory synced. ResourceExhaustedError if the disk is full (nothing is
  // left behind). The result is mapped writable. `for_import`: nothing is
  // synced (as for Recycle below): an import's commit syncs its segments and
  // the directory, and its rollback removes them; an fdatasync of a fresh
  // preallocated file and a directory sync at every roll stalled the
  // importing thread for tens of milliseconds each.
  static absl::StatusOr<std::shared_ptr<Segment>> Create(FileSystem* fs, const std::string& dir,
                                                         uint64_t base, uint64_t capacity,
                                                         bool for_import = false);
  // Turns the file at `spare_path` (a segment that was sealed, whose pages
  // are still in the page cache) into dir/SegmentFileName(base): a new
  // header, then the rename. Writing over resident pages costs neither the
  // page faults nor the zeroing of fresh ones. Its bytes past the header are
  // the old segment's: the writer must put an end marker after its last
  // record (see recycled()). Nothing is synced: for an import only, whose
  // commit syncs everything and whose rollback removes the file.
  static absl::StatusOr<std::shared_ptr<Segment>> Recycle(FileSystem* fs, const std::string& dir,
                                                          const std::string& spare_path,
                                                          uint64_t base, uint64_t capacity);
  // Opens an existing segment. A damaged header (or one naming another base
  // than `expected_base`, the file name's) does not fail the open: the
  // records carry their own checksums and sequence numbers, so they stay
  // readable; header_status() says what is wrong (a DataLossError naming
  // the file and offset) and base() is `expected_base`. DataLossError if
  // the file is shorter than a header; other errors (I/O, no descriptors)
  // as they come.
  static absl::StatusOr<std::shared_ptr<Segment>> Open(FileSystem* fs, const std::string& path,
                                                       uint64_t expected_base, bool writable);

  uint64_t base() const { return header_.base_sequence; }
  int64_t created_micros() const { return header_.created_micros; }
  // OK, or why the header cannot be trusted (see Open).
  const absl::Status& header_status() const { return header_status_; }
  const std::string& path() const { return path_; }
  // The whole mapped file, header included.
  absl::string_view contents() const {
    return absl::string_view(mapping_->data(), mapping_->size());
  }
  char* mutable_data() { return mapping_->data(); }
  uint64_t size() const { return mapping_->size(); }
  bool writable() const { return file_ != nullptr; }
  // Made by Recycle: the bytes after the last record are not zero.
  bool recycled() const { return recycled_; }

  // Whether the mapped bytes [offset, offset + n) can be read (a page may
  // not: an I/O error, or the file shortened under the mapping). Reads one
  // byte per page, under a SIGBUS guard.
  bool Readable(uint64_t offset, uint64_t n) const;
  // REQUIRES: writable().
  absl::Status Sync();
  // Zeroes [offset, size()) and syncs. REQUIRES: writable().
  absl::Status ZeroTail(uint64_t offset);
  void PrefaultForWrite(uint64_t offset, uint64_t len) { mapping_->PrefaultForWrite(offset, len); }
  void ReleaseResident(uint64_t offset, uint64_t len) { mapping_->ReleaseResident(offset, len); }
  // Reserves `capacity` bytes for this (writable) segment's file and returns a
  // new Segment mapping all of it (both share the descriptor).
  absl::StatusOr<std::shared_ptr<Segment>> Enlarge(uint64_t capacity);
  // A read-only Segment over the same file and descriptor. Used when a
  // segment rolls: dropping the writable mapping means the kernel's writeback
  // of the rolled segment does not have to write-protect our page-table
  // entries (TLB-flush IPIs that stall the appending thread).
  absl::StatusOr<std::shared_ptr<Segment>> ReadOnlyCopy();
  std::shared_ptr<File> file() const { return file_; }
  // Closes the descriptor; the mapping stays. Writes become impossible.
  void ReleaseFile() { file_.reset(); }

 private:
  Segment(std::string path, SegmentHeader header, std::shared_ptr<File> file,
          std::unique_ptr<Mapping> mapping)
      : path_(std::move(path)), header_(header), file_(std::move(file)),
        mapping_(std::move(mapping)) {}

  const std::string path_;
  const SegmentHeader header_;
  absl::Status header_status_;
  std::shared_ptr<File> file_;  // shared with an Enlarge()d successor
  std::unique_ptr<Mapping> mapping_;
  bool recycled_ = false;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEGMENT_SEGMENT_H_
