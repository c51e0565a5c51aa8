#ifndef TRACELOG_ENGINE_SEAL_SEALER_H_
#define TRACELOG_ENGINE_SEAL_SEALER_H_

// Rewrites a rolled raw segment into its sealed form (<base>.sealed) and
// index (<base>.idx). Crash-safe: both are written to temporary files,
// synced, renamed into place and the directory synced; until the caller then
// removes the raw segment, the raw segment stays authoritative (recovery
// deletes a sealed file whose raw segment still exists).

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/io/file_system.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/seal_options.h"

namespace tracelog {

class Segment;


struct SealStats {
  uint64_t events = 0;
  uint64_t event_bytes = 0;   // raw event bytes sealed
  uint64_t sealed_bytes = 0;  // size of the .sealed file
  uint64_t index_bytes = 0;   // size of the .idx file
  uint64_t blocks = 0;
  bool trained_dictionary = false;
};

// Reads the sealed file at `path` back as a reader would (header, every
// block decompressed and checked) and checks that it holds exactly the
// sequences [base, last], each once. SealSegment calls it on its temporary
// file before the rename that lets the raw segment go.
absl::Status VerifySealedFile(FileSystem* fs, const std::string& path, uint64_t base,
                              uint64_t last, DictionaryStore* dicts, BlockCodec* codec);

// Seals `raw` (a complete, rolled segment whose events are exactly the
// sequences [raw.base(), last_sequence]: its successor starts at
// last_sequence + 1) into `dir`. DataLossError if the raw segment is
// damaged or holds anything else (it then stays unsealed, and
// authoritative); FailedPreconditionError if it holds no event. The sealed
// file is read back in full before it is renamed into place: every block
// decompressed, its sequences exactly the raw segment's (a sealed file that
// does not is removed, and the raw segment stays).
absl::StatusOr<SealStats> SealSegment(FileSystem* fs, const std::string& dir, const Segment& raw,
                                      uint64_t last_sequence, const SealOptions& options,
                                      DictionaryStore* dicts, BlockCodec* codec,
                                      const SealTuning& tuning = SealTuning());

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEAL_SEALER_H_
