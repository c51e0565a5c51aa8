#ifndef TRACELOG_ENGINE_SEAL_BLOCK_CODEC_H_
#define TRACELOG_ENGINE_SEAL_BLOCK_CODEC_H_

// zstd compression of sealed blocks, with or without the log's dictionary,
// and the dictionary itself: trained from the log's own events, stored once
// per log as DICT-<id> (engine/format/sealed_format.h) and shared by every
// sealed segment that names its id.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/io/file_system.h"

namespace tracelog {

class Dictionary {
 public:
  // Wraps dictionary bytes (a zstd dictionary).
  static absl::StatusOr<std::shared_ptr<const Dictionary>> FromBytes(std::string bytes);
  // Wraps the dictionary bytes of a mapped DICT file (`bytes` views into
  // `mapping`), without reading them all: only what decompression uses is
  // paged in. Damage to them shows as a content checksum mismatch of the
  // frames that use them.
  static absl::StatusOr<std::shared_ptr<const Dictionary>> FromMapping(
      std::unique_ptr<Mapping> mapping, absl::string_view bytes, uint64_t id);
  ~Dictionary();
  uint64_t id() const { return id_; }
  absl::string_view bytes() const { return view_; }
  // Digested forms, created on first use and kept.
  const void* DecompressionDict() const;          // ZSTD_DDict*
  const void* CompressionDict(int level) const;   // ZSTD_CDict*

 private:
  Dictionary() = default;
  std::string bytes_;
  std::unique_ptr<Mapping> mapping_;
  absl::string_view view_;  // into bytes_ or mapping_
  uint64_t id_ = 0;
  void* ddict_ = nullptr;
  mutable std::mutex mu_;
  mutable absl::flat_hash_map<int, void*> cdicts_;
};

// Trains a dictionary of at most `max_size` bytes from `samples` (events).
// NotFoundError when zstd cannot train one from them (too little data).
absl::StatusOr<std::string> TrainDictionary(const std::vector<absl::string_view>& samples,
                                            size_t max_size);

// Compresses and decompresses blocks. Not thread-safe: one per thread.
class BlockCodec {
 public:
  BlockCodec();
  ~BlockCodec();
  BlockCodec(const BlockCodec&) = delete;
  BlockCodec& operator=(const BlockCodec&) = delete;

  // Appends one zstd frame of `src` to *dst, with a content checksum (so a
  // damaged dictionary cannot go unnoticed). `dict` may be null.
  absl::Status Compress(absl::string_view src, int level, const Dictionary* dict,
                        std::string* dst);
  // Decompresses the frame, which must be exactly `raw_size` bytes, into the
  // first `raw_size` bytes of *dst; *dst is grown to that size if smaller and
  // never shrunk (so a reused buffer is not zero-filled again). DataLossError
  // on any mismatch.
  absl::Status Decompress(absl::string_view src, size_t raw_size, const Dictionary* dict,
                          std::string* dst);
  // DataLossError unless `raw_size` is within the format's maximum
  // (kMaxBlockRawSize) and equals the frame's content size where the frame
  // states one: a block header's raw size is not covered by any checksum.
  static absl::Status CheckRawSize(absl::string_view src, uint64_t raw_size);

 private:
  void* cctx_ = nullptr;  // ZSTD_CCtx*
  void* dctx_ = nullptr;  // ZSTD_DCtx*
};

// The dictionaries of one log directory, loaded on demand and cached.
// Thread-safe.
class DictionaryStore {
 public:
  DictionaryStore(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  // Dictionary `id` (DICT-<id> in the directory). NotFoundError or
  // DataLossError naming the file.
  absl::StatusOr<std::shared_ptr<const Dictionary>> Get(uint64_t id);
  // Stores `bytes` as DICT-<id> crash-safely (synced, directory synced) and
  // returns it.
  absl::StatusOr<std::shared_ptr<const Dictionary>> Put(std::string bytes);
  // The dictionary new segments use, if any (the lowest id on disk, cached).
  absl::StatusOr<std::shared_ptr<const Dictionary>> Current();
  // Held while a dictionary is chosen or trained, so that segments sealed
  // at once do not each train one.
  std::mutex& training_mutex() { return training_mu_; }
  // True while a thread trains a dictionary (under training_mutex): a
  // segment sealed meanwhile would wait for it.
  bool training() const { return training_.load(std::memory_order_relaxed); }
  void set_training(bool on) { training_.store(on, std::memory_order_relaxed); }
  // Remembers (for this process) that training did not pay.
  void Decline() { declined_.store(true); }
  bool declined() const { return declined_.load(); }
  // A dictionary trained whose file could not be written (a full or failing
  // disk): kept in memory, under training_mutex, so that the next segment
  // sealed stores it instead of training another (training costs a core
  // for a while).
  // Never written by another process: a rolled-back import's events cannot
  // reach the disk this way (its process closed the log).
  void KeepUnstored(std::string bytes) { unstored_ = std::move(bytes); }
  std::optional<std::string> TakeUnstored() {
    std::optional<std::string> out = std::move(unstored_);
    unstored_.reset();
    return out;
  }
  // Dictionaries trained by this process (under training_mutex).
  void CountTraining() { trainings_.fetch_add(1); }
  uint64_t trainings() const { return trainings_.load(); }

 private:
  FileSystem* const fs_;
  const std::string dir_;
  std::mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<const Dictionary>> cache_;
  std::shared_ptr<const Dictionary> current_;
  bool current_loaded_ = false;
  std::atomic<bool> declined_{false};
  std::atomic<bool> training_{false};
  std::atomic<uint64_t> trainings_{0};
  std::mutex training_mu_;
  std::optional<std::string> unstored_;  // guarded by training_mu_
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEAL_BLOCK_CODEC_H_
