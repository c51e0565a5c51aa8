#ifndef TRACELOG_ENGINE_SEAL_SEALED_SEGMENT_H_
#define TRACELOG_ENGINE_SEAL_SEALED_SEGMENT_H_

// A sealed segment file, memory-mapped read-only (the descriptor is closed
// after mapping), with its index loaded on first use. Immutable, so any
// number of threads may read it at once (each with its own BlockCodec).

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/format/sealed_format.h"
#include "engine/io/file_system.h"
#include "engine/segment/segment_scanner.h"
#include "engine/seal/block_codec.h"

namespace tracelog {

class SealedSegment {
 public:
  // Maps dir/SealedFileName(base) and checks its header and that its base is
  // `base`; resolves its dictionary through `dicts`. DataLossError naming the
  // file on damage.
  static absl::StatusOr<std::shared_ptr<SealedSegment>> Open(FileSystem* fs,
                                                             const std::string& dir,
                                                             uint64_t base,
                                                             DictionaryStore* dicts);
  // The same for the file at `path` (a sealed file not yet renamed into
  // place); its index is looked for beside it, named by `base`.
  static absl::StatusOr<std::shared_ptr<SealedSegment>> OpenFile(FileSystem* fs,
                                                                 const std::string& path,
                                                                 uint64_t base,
                                                                 DictionaryStore* dicts);
  // OK, or why the header cannot be trusted; then the segment was salvaged
  // (see Open) and reads what its blocks hold.
  const absl::Status& header_status() const { return header_status_; }

  const std::string& path() const { return path_; }
  const std::string& index_path() const { return index_path_; }
  const SealedHeader& header() const { return header_; }
  uint64_t base() const { return header_.base_sequence; }
  uint64_t last_sequence() const { return header_.last_sequence; }
  uint64_t file_size() const { return mapping_->size(); }
  const Dictionary* dictionary() const { return dict_.get(); }

  // The index, read from the .idx file and checked against this segment;
  // if that file is missing or damaged, rebuilt from the blocks (in memory;
  // see index_rebuilt()). Thread-safe; loaded once.
  // Without `with_sessions` the session table may be left empty (see
  // DecodeIndex); a later call with it decodes the index again, in full.
  absl::StatusOr<std::shared_ptr<const SegmentIndex>> Index(BlockCodec* codec,
                                                           bool with_sessions = true);
  // Why the .idx file could not be used, when Index() had to rebuild it.
  std::string index_rebuilt() const;

  // The entries of the session directory of the .idx file for the session
  // with hash `hash` (two small reads into a reused buffer, without decoding
  // the rest of the index). DataLossError if the index is damaged: use
  // Index() then.
  absl::StatusOr<SessionDirectory> LookupSession(uint64_t hash) const;
  // The directory's header fields only (error region, time range).
  absl::StatusOr<SessionDirectory> DirectoryHeader() const;

 private:
  absl::StatusOr<SessionDirectory> ReadDirectory(std::optional<uint64_t> hash,
                                                 bool no_entries) const;
  // Decodes the block header at `offset` from the mapping, under a SIGBUS
  // guard: false if its page cannot be read.
  bool BlockHeaderAt(uint64_t offset, BlockHeader* h) const;

 public:

  // Decompresses the block whose header is at `offset` (from a BlockSummary
  // or a walk): *raw receives its contents, *events views into *raw. *raw
  // is never shrunk and keeps at least kExtractPadding bytes after the
  // contents, so every event can be parsed in place
  // (EventKeyExtractor::Extract with readable_after).
  absl::Status ReadBlock(uint64_t offset, BlockCodec* codec, std::string* raw,
                         std::vector<BlockEvent>* events) const;

  // Hint: drop the file's pages from this process's resident memory (they
  // stay in the page cache; a later read maps them again).
  void ReleaseResident() const { mapping_->ReleaseResident(0, mapping_->size()); }
  // Hint: the caller is about to read the blocks in [offset, offset+len).
  void Prefetch(uint64_t offset, uint64_t len) const { mapping_->PrefaultForRead(offset, len); }

  // Offset of the block after the one at `offset` (from its header), or
  // data end if that header is unusable.
  uint64_t NextBlock(uint64_t offset) const;

  // Walks every block from the start of the file, in file order. A damaged
  // block is reported and skipped (if its header is unusable, so is the rest
  // of the file). `fn` gets each good block's offset, header, contents and
  // events (views into the contents, which `fn` may take over).
  // Returns the number of damaged ranges reported.
  using BlockFn = std::function<void(uint64_t offset, const BlockHeader& header,
                                     std::unique_ptr<std::string>* raw,
                                     const std::vector<BlockEvent>& events)>;
  uint64_t ForEachBlock(BlockCodec* codec, const BlockFn& fn,
                        const CorruptionReporter& reporter) const;

  // Every readable event, in sequence order, views into *storage.
  uint64_t ReadAll(BlockCodec* codec, std::vector<std::unique_ptr<std::string>>* storage,
                   std::vector<BlockEvent>* events, const CorruptionReporter& reporter) const;

 private:
  SealedSegment() = default;

  std::string path_;
  std::string index_path_;
  FileSystem* fs_ = nullptr;
  SealedHeader header_;
  absl::Status header_status_;
  std::unique_ptr<Mapping> mapping_;
  std::shared_ptr<const Dictionary> dict_;
  std::mutex index_mu_;
  std::shared_ptr<const SegmentIndex> index_;
  bool index_has_sessions_ = false;
  std::string index_rebuilt_;
};

// Builds the index of a sealed segment from its blocks (events re-parsed).
absl::StatusOr<SegmentIndex> BuildIndexFromBlocks(const SealedSegment& segment, BlockCodec* codec);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEAL_SEALED_SEGMENT_H_
