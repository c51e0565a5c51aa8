// libFuzzer target: an index file, through the decoders and as the .idx
// beside the sealed segment of format-spec/vectors/sealed_segment.hex (the
// vector index.hex describes it): full and partial decodes, session
// lookups and the directory header, each bounded before it allocates.

#include <string>

#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/file_header.h"
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
  absl::string_view bytes = fuzz::Bytes(data, size);
  std::string fixed;
  if (fuzz::TakeFixFlag(&bytes)) {
    // The header's, the session directory's and the body's checksums, where
    // the (mutated) lengths place them inside the input.
    fixed.assign(bytes.data(), bytes.size());
    if (fixed.size() >= kIndexHeaderSize) SealFileHeader(kIndexMagic, fixed.data());
    if (fixed.size() >= kIndexPrefixSize) {
      const uint64_t n = DecodeFixed64(fixed.data() + kIndexHeaderSize);
      const uint64_t run_bytes = DecodeFixed64(fixed.data() + kIndexHeaderSize + 8);
      const uint64_t dir_end = kIndexHeaderSize + kSessionDirHeaderSize + n * kSessionDirEntrySize;
      if (n < fixed.size() && dir_end + 8 <= fixed.size()) {
        EncodeFixed64(fixed.data() + dir_end,
                      Checksum64(absl::string_view(fixed).substr(kIndexHeaderSize,
                                                                 dir_end - kIndexHeaderSize)));
        const uint64_t body_at = dir_end + 8 + run_bytes;
        const uint64_t body_len = DecodeFixed64(fixed.data() + 48);
        if (run_bytes < fixed.size() && body_at <= fixed.size() &&
            body_len <= fixed.size() - body_at && fixed.size() - body_at - body_len >= 8) {
          EncodeFixed64(fixed.data() + body_at + body_len,
                        Checksum64(absl::string_view(fixed).substr(body_at, body_len)));
        }
      }
    }
    bytes = fixed;
  }
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
