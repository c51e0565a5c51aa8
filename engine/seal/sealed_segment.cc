#include "engine/seal/sealed_segment.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/event_keys.h"
#include "engine/io/atomic_file.h"
#include "engine/io/mapped_read_guard.h"
#include "engine/seal/index_builder.h"

namespace tracelog {

absl::StatusOr<std::shared_ptr<SealedSegment>> SealedSegment::Open(FileSystem* fs,
                                                                   const std::string& dir,
                                                                   uint64_t base,
                                                                   DictionaryStore* dicts) {
  return OpenFile(fs, JoinPath(dir, SealedFileName(base)), base, dicts);
}

absl::StatusOr<std::shared_ptr<SealedSegment>> SealedSegment::OpenFile(FileSystem* fs,
                                                                       const std::string& path,
                                                                       uint64_t base,
                                                                       DictionaryStore* dicts) {
  std::shared_ptr<SealedSegment> seg(new SealedSegment());
  seg->fs_ = fs;
  seg->path_ = path;
  const size_t slash = path.rfind('/');
  seg->index_path_ = JoinPath(slash == std::string::npos ? "." : path.substr(0, slash),
                              IndexFileName(base));
  auto file = fs->Open(seg->path_, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size < kSealedHeaderSize) {
    return absl::DataLossError(absl::StrCat(seg->path_, ": sealed segment of ", *size,
                                            " bytes is shorter than its header"));
  }
  // The header by pread: touching the mapping for it would cost a page fault
  // per segment (~25 us on small VMs), for segments a query may not read.
  std::string header;
  if (auto s = (*file)->Read(0, kSealedHeaderSize, &header); !s.ok()) return s;
  if (auto s = DecodeSealedHeader(header, &seg->header_); !s.ok()) {
    return absl::DataLossError(absl::StrCat(seg->path_, ": ", s.message()));
  }
  auto mapping = (*file)->Map(*size, /*writable=*/false);
  if (!mapping.ok()) return mapping.status();
  seg->mapping_ = std::move(*mapping);
  if (seg->header_.base_sequence != base) {
    return absl::DataLossError(absl::StrCat(seg->path_, ": header says base sequence ",
                                            seg->header_.base_sequence, " at offset 16"));
  }
  if (seg->header_.data_end != *size) {
    return absl::DataLossError(absl::StrCat(seg->path_, ": file is ", *size,
                                            " bytes, its header says ", seg->header_.data_end));
  }
  if (seg->header_.dict_id != 0) {
    auto dict = dicts->Get(seg->header_.dict_id);
    if (!dict.ok()) {
      return absl::Status(dict.status().code(),
                          absl::StrCat(seg->path_, ": its dictionary: ", dict.status().message()));
    }
    seg->dict_ = *dict;
  }
  return seg;
}

absl::Status SealedSegment::ReadBlock(uint64_t offset, BlockCodec* codec, std::string* raw,
                                      std::vector<BlockEvent>* events) const {
  const uint64_t end = header_.data_end;
  if (offset < kSealedHeaderSize || offset > end || end - offset < kBlockHeaderSize) {
    return absl::DataLossError(absl::StrCat(path_, ": no block header fits at offset ", offset));
  }
  BlockHeader h;
  if (!BlockHeaderAt(offset, &h)) {
    return absl::DataLossError(absl::StrCat(path_, ": block header at offset ", offset,
                                            " cannot be read (I/O error)"));
  }
  if (h.compressed_size > end - offset - kBlockHeaderSize) {
    return absl::DataLossError(absl::StrCat(path_, ": block at offset ", offset, " claims ",
                                            h.compressed_size, " bytes past the end of the file"));
  }
  // The frame is copied out of the mapping under a SIGBUS guard: a page
  // that cannot be read is this block's damage, not a crash, and zstd then
  // reads memory that cannot fault. (The copy costs a few percent of the
  // decompression.)
  thread_local std::string copy;
  if (copy.size() < h.compressed_size) copy.resize(h.compressed_size);
  const char* src = mapping_->data() + offset + kBlockHeaderSize;
  char* dst = copy.data();
  const size_t n = h.compressed_size;
  if (!GuardMappedRead([src, dst, n] { std::memcpy(dst, src, n); })) {
    return absl::DataLossError(absl::StrCat(
        path_, ": block at offset ", offset, ": the page at offset ",
        offset + kBlockHeaderSize + FirstUnreadable(src, n), " cannot be read (I/O error)"));
  }
  const absl::string_view frame(copy.data(), n);
  if (Checksum64(frame) != h.checksum) {
    return absl::DataLossError(absl::StrCat(path_, ": block checksum mismatch at offset ", offset));
  }
  // The raw size is outside the checksum: bounded before it sizes a buffer.
  if (auto s = BlockCodec::CheckRawSize(frame, h.raw_size); !s.ok()) {
    return absl::DataLossError(absl::StrCat(path_, ": block at offset ", offset, ": ", s.message()));
  }
  // Slack after the contents, so that every event can be parsed in place.
  if (raw->size() < h.raw_size + kExtractPadding) raw->resize(h.raw_size + kExtractPadding);
  if (auto s = codec->Decompress(frame, h.raw_size, dict_.get(), raw); !s.ok()) {
    return absl::DataLossError(absl::StrCat(path_, ": block at offset ", offset, ": ", s.message()));
  }
  if (auto s = DecodeRawBlock(header_.base_sequence, absl::string_view(*raw).substr(0, h.raw_size),
                              events);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat(path_, ": block at offset ", offset, ": ", s.message()));
  }
  for (const BlockEvent& e : *events) {
    if (e.sequence < header_.base_sequence || e.sequence > header_.last_sequence) {
      events->clear();
      return absl::DataLossError(absl::StrCat(path_, ": block at offset ", offset,
                                              " holds sequence ", e.sequence,
                                              " outside the segment"));
    }
  }
  return absl::OkStatus();
}

bool SealedSegment::BlockHeaderAt(uint64_t offset, BlockHeader* h) const {
  char bytes[kBlockHeaderSize];
  const char* src = mapping_->data() + offset;
  if (!GuardMappedRead([src, &bytes] { std::memcpy(bytes, src, kBlockHeaderSize); })) return false;
  *h = DecodeBlockHeader(bytes);
  return true;
}

uint64_t SealedSegment::NextBlock(uint64_t offset) const {
  const uint64_t end = header_.data_end;
  if (offset < kSealedHeaderSize || offset >= end || end - offset < kBlockHeaderSize) return end;
  BlockHeader h;
  if (!BlockHeaderAt(offset, &h)) return end;
  return std::min<uint64_t>(end, offset + kBlockHeaderSize + h.compressed_size);
}

uint64_t SealedSegment::ForEachBlock(BlockCodec* codec, const BlockFn& fn,
                                     const CorruptionReporter& reporter) const {
  uint64_t damaged = 0;
  uint64_t offset = kSealedHeaderSize;
  std::vector<BlockEvent> events;
  const uint64_t end = header_.data_end;
  while (offset < end) {
    if (end - offset < kBlockHeaderSize) {
      ++damaged;
      if (reporter) reporter(Corruption{path_, offset, end, "truncated block header"});
      break;
    }
    BlockHeader h;
    if (!BlockHeaderAt(offset, &h)) {
      ++damaged;
      if (reporter) {
        reporter(Corruption{path_, offset, end, "block header cannot be read (I/O error)"});
      }
      break;
    }
    const uint64_t next = offset + kBlockHeaderSize + h.compressed_size;
    auto raw = std::make_unique<std::string>();
    absl::Status s = ReadBlock(offset, codec, raw.get(), &events);
    if (!s.ok()) {
      ++damaged;
      const bool lost = next > end;  // the block's length is unusable
      if (reporter) {
        reporter(Corruption{path_, offset, lost ? end : next, std::string(s.message())});
      }
      if (lost) break;
    } else {
      fn(offset, h, &raw, events);
    }
    offset = next;
  }
  return damaged;
}

uint64_t SealedSegment::ReadAll(BlockCodec* codec,
                                std::vector<std::unique_ptr<std::string>>* storage,
                                std::vector<BlockEvent>* events,
                                const CorruptionReporter& reporter) const {
  storage->clear();
  events->clear();
  // The header's count is checked against its sequences, not against the
  // file: a damaged or crafted one must not size an allocation (found by
  // fuzz_sealed). Reserved up to a bound; a larger segment grows the vector.
  events->reserve(std::min<uint64_t>(header_.event_count, uint64_t{1} << 16));
  const uint64_t damaged = ForEachBlock(
      codec,
      [&](uint64_t, const BlockHeader&, std::unique_ptr<std::string>* raw,
          const std::vector<BlockEvent>& block) {
        events->insert(events->end(), block.begin(), block.end());
        storage->push_back(std::move(*raw));  // the views stay valid: the string is not moved
      },
      reporter);
  std::sort(events->begin(), events->end(),
            [](const BlockEvent& a, const BlockEvent& b) { return a.sequence < b.sequence; });
  return damaged;
}

absl::StatusOr<std::shared_ptr<const SegmentIndex>> SealedSegment::Index(BlockCodec* codec,
                                                                        bool with_sessions) {
  std::lock_guard<std::mutex> l(index_mu_);
  if (index_ != nullptr && (index_has_sessions_ || !with_sessions)) return index_;
  auto index = std::make_shared<SegmentIndex>();
  absl::Status why;
  auto contents = ReadWholeFile(fs_, index_path_);
  if (!contents.ok()) {
    why = contents.status();
  } else if (absl::Status s = DecodeIndex(*contents, index.get(), with_sessions); !s.ok()) {
    why = absl::DataLossError(absl::StrCat(index_path_, ": ", s.message()));
  } else if (index->base_sequence != header_.base_sequence ||
             index->last_sequence != header_.last_sequence ||
             index->event_count != header_.event_count ||
             index->sealed_size != header_.data_end) {
    why = absl::DataLossError(absl::StrCat(index_path_, ": does not describe ", path_));
  }
  if (!why.ok()) {
    auto rebuilt = BuildIndexFromBlocks(*this, codec);
    if (!rebuilt.ok()) return rebuilt.status();
    *index = std::move(*rebuilt);
    index_rebuilt_ = why.ToString();
    with_sessions = true;  // a rebuilt index has them all
  }
  index_ = std::move(index);
  index_has_sessions_ = with_sessions;
  return index_;
}

std::string SealedSegment::index_rebuilt() const { return index_rebuilt_; }

absl::StatusOr<SessionDirectory> SealedSegment::LookupSession(uint64_t hash) const {
  return ReadDirectory(hash, false);
}

absl::StatusOr<SessionDirectory> SealedSegment::DirectoryHeader() const {
  return ReadDirectory(std::nullopt, true);
}

absl::StatusOr<SessionDirectory> SealedSegment::ReadDirectory(std::optional<uint64_t> hash,
                                                              bool no_entries) const {
  auto file = fs_->Open(index_path_, OpenMode::kRead);
  if (!file.ok()) return file.status();
  thread_local std::string bytes;  // reused: its pages are faulted in once
  if (auto s = (*file)->Read(0, kIndexPrefixSize, &bytes); !s.ok()) return s;
  auto size = SessionDirectoryBytes(bytes);
  if (!size.ok()) return absl::DataLossError(absl::StrCat(index_path_, ": ", size.status().message()));
  auto file_size = (*file)->Size();
  if (!file_size.ok()) return file_size.status();
  if (*size > *file_size) {
    return absl::DataLossError(absl::StrCat(index_path_, ": a session directory of ", *size,
                                            " bytes (count at offset 64) does not fit the ",
                                            *file_size, "-byte file"));
  }
  if (auto s = (*file)->Read(0, *size, &bytes); !s.ok()) return s;
  SessionDirectory dir;
  if (auto s = DecodeSessionDirectory(bytes, &dir, hash, no_entries); !s.ok()) {
    return absl::DataLossError(absl::StrCat(index_path_, ": ", s.message()));
  }
  // It must describe this segment.
  if (DecodeFixed64(bytes.data() + 16) != header_.base_sequence ||
      DecodeFixed64(bytes.data() + 40) != header_.data_end) {
    return absl::DataLossError(absl::StrCat(index_path_, ": does not describe ", path_));
  }
  // The entries' runs: one more small read each (usually one entry).
  std::string slice;
  for (SessionDirEntry& e : dir.entries) {
    if (e.runs_at > dir.run_bytes || e.runs_len > dir.run_bytes - e.runs_at) {
      return absl::DataLossError(absl::StrCat(index_path_, ": session runs outside the run area"));
    }
    const uint64_t at = *size + e.runs_at;
    if (auto s = (*file)->Read(at, e.runs_len, &slice); !s.ok()) return s;
    if (auto s = DecodeSessionRuns(slice, e, &e.runs); !s.ok()) {
      return absl::DataLossError(absl::StrCat(index_path_, ": ", s.message(), " at offset ", at));
    }
  }
  return dir;
}

absl::StatusOr<SegmentIndex> BuildIndexFromBlocks(const SealedSegment& segment,
                                                  BlockCodec* codec) {
  IndexBuilder builder(segment.base());
  EventKeyExtractor extractor;
  std::string first_damage;
  const uint64_t damaged = segment.ForEachBlock(
      codec,
      [&](uint64_t offset, const BlockHeader& h, std::unique_ptr<std::string>*,
          const std::vector<BlockEvent>& events) {
        for (const BlockEvent& e : events) {
          EventKeys keys;
          // Events were valid when appended; a failure here leaves the keys
          // empty rather than dropping the event from the index.
          if (!extractor.Extract(e.event, &keys, /*validate=*/false, kExtractPadding).ok()) {
            keys = EventKeys();
          }
          builder.Add(e.sequence, keys, e.event);
        }
        builder.EndBlock(offset, h.compressed_size, h.raw_size);
      },
      [&](const Corruption& c) {
        if (first_damage.empty()) first_damage = c.ToString();
      });
  if (damaged > 0) {
    return absl::DataLossError(absl::StrCat("cannot rebuild the index of ", segment.path(), ": ",
                                            first_damage));
  }
  return builder.Finish(segment.file_size());
}

}  // namespace tracelog
