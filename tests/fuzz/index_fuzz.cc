// libFuzzer target: an index file, through the decoders and as the .idx
// beside the sealed segment of format-spec/vectors/sealed_segment.hex (the
// vector index.hex describes it): full and partial decodes, session
// lookups and the directory header, each bounded before it allocates.

#include <string>

#include "engine/format/sealed_format.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
const std::string& SealedVector() {
  static const std::string* bytes = new std::string(tracelog::fuzz::ReadVector("sealed_segment.hex"));
  return *bytes;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  const absl::string_view bytes = fuzz::Bytes(data, size);
  for (bool with_sessions : {false, true}) {
    SegmentIndex index;
    if (DecodeIndex(bytes, &index, with_sessions).ok()) {
      TRACELOG_FUZZ_CHECK(!with_sessions || index.sessions.size() <= index.event_count);
    }
  }
  SessionDirectory dir;
  DecodeSessionDirectory(bytes, &dir).IgnoreError();
  DecodeSessionDirectory(bytes, &dir, SessionHash("s-1")).IgnoreError();

  const std::string& sealed = SealedVector();
  auto fs = fuzz::LogDirWith(IndexFileName(7), bytes);
  fs->SetContents("/log/" + SealedFileName(7), sealed);
  DictionaryStore dicts(fs.get(), "/log");
  auto seg = SealedSegment::Open(fs.get(), "/log", 7, &dicts);
  TRACELOG_FUZZ_CHECK(seg.ok());  // the vector is intact
  (*seg)->DirectoryHeader().IgnoreError();
  (*seg)->LookupSession(SessionHash("s-1")).IgnoreError();
  (*seg)->LookupSession(0).IgnoreError();
  BlockCodec codec;
  (*seg)->Index(&codec, /*with_sessions=*/false).IgnoreError();
  (*seg)->Index(&codec, /*with_sessions=*/true).IgnoreError();
  return 0;
}
