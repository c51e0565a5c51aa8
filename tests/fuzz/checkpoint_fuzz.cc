// libFuzzer target: the small fixed-size files recovery reads first: the
// CHECKPOINT file (checkpoint and lease slots, as recovery reads it), gap
// files, the dictionary file and the raw segment header. A damaged slot is
// an absent slot, never a crash.

#include <string>

#include "engine/format/checkpoint_format.h"
#include "engine/format/gap_format.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/log/checkpoint_file.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  const absl::string_view bytes = fuzz::Bytes(data, size);
  Checkpoint cp;
  DecodeCheckpoint(bytes, &cp).IgnoreError();
  SequenceLease lease;
  DecodeLease(bytes, &lease).IgnoreError();
  GapRecord gap;
  if (DecodeGap(bytes, &gap).ok()) TRACELOG_FUZZ_CHECK(gap.first <= gap.end);
  uint64_t id;
  absl::string_view dict;
  if (DecodeDictFile(bytes, &id, &dict, /*verify_content=*/true).ok()) {
    TRACELOG_FUZZ_CHECK(dict.size() <= bytes.size());
  }
  SegmentHeader header;
  DecodeSegmentHeader(bytes, &header).IgnoreError();
  auto fs = fuzz::LogDirWith(kCheckpointFileName, bytes);
  ReadCheckpointState(fs.get(), "/log", /*boot_hash=*/1);
  return 0;
}
