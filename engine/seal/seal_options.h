#ifndef TRACELOG_ENGINE_SEAL_SEAL_OPTIONS_H_
#define TRACELOG_ENGINE_SEAL_SEAL_OPTIONS_H_

#include <atomic>
#include <cstdint>

namespace tracelog {

// How rolled segments are sealed (engine/seal/sealer.h, format-spec/README.md
// "Sealed segments").
struct SealOptions {
  // Raw bytes per zstd block. Smaller blocks make session reads and selective
  // queries cheaper, larger ones compress better; with the dictionary, 128 KiB
  // blocks compress as well as 256 KiB ones (bench/RESULTS.md). Default: 128 KiB.
  uint64_t block_size = 128 << 10;
  // Raw bytes per block of the tool-call region (sealed order keeps tool
  // calls apart, by tool): small, because a session read decompresses one
  // such block per tool the session called; smaller blocks cost a little
  // space (bench/RESULTS.md). Default: 32 KiB.
  uint64_t tool_call_block_size = 32 << 10;
  // zstd level. Default: 3.
  int level = 3;
  // Size of the dictionary trained from the log's own events when the first
  // large enough segment is sealed (0: never train). Kept only where it pays:
  // when it shrinks the first blocks by at least 2 %. Default: 512 KiB.
  uint64_t dictionary_size = 512 << 10;
  // A segment with fewer event bytes than this does not train a dictionary.
  // Default: 8 MiB.
  uint64_t dictionary_min_bytes = 8 << 20;
};

// How one seal uses the machine, never what it writes: set by the log per
// segment, not offered to users.
struct SealTuning {
  // Let the page cache drop a sealed file's pages once it is synced. Set by
  // the log for the segments of an import: there the next sealed file's
  // writes reuse the freed pages instead of pages the kernel must zero on
  // first touch, dear on small VMs (bench/RESULTS.md). Queries then read
  // those files from disk once. Default: false.
  bool drop_cache = false;
  // Set (by another thread) to give the seal up: it stops at its next
  // check (between phases, every few hundred events while it compresses)
  // with CancelledError, removes its temporary file and leaves the raw
  // segment as it was. The log's background sealer passes its stop flag,
  // so that closing a log does not wait for a seal it did not need.
  // Default: nullptr (never cancelled).
  const std::atomic<bool>* cancel = nullptr;

  bool cancelled() const {
    return cancel != nullptr && cancel->load(std::memory_order_relaxed);
  }
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEAL_SEAL_OPTIONS_H_
