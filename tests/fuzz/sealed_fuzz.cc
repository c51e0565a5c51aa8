// libFuzzer target: a sealed segment file, opened as a reader opens it
// (header, salvage, blocks, the index rebuilt from the blocks since no .idx
// exists). Every event returned lies within the segment's sequence range.

#include <memory>
#include <string>
#include <vector>

#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/file_header.h"
#include "engine/format/sealed_format.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  absl::string_view bytes = fuzz::Bytes(data, size);
  std::string fixed;
  if (fuzz::TakeFixFlag(&bytes)) {
    // The header's checksum, and each block's over its frame.
    fixed.assign(bytes.data(), bytes.size());
    if (fixed.size() >= kSealedHeaderSize) SealFileHeader(kSealedMagic, fixed.data());
    for (uint64_t at = kSealedHeaderSize;
         at <= fixed.size() && fixed.size() - at >= kBlockHeaderSize;) {
      BlockHeader h = DecodeBlockHeader(fixed.data() + at);
      if (h.compressed_size > fixed.size() - at - kBlockHeaderSize) break;
      h.checksum = Checksum64(absl::string_view(fixed).substr(at + kBlockHeaderSize, h.compressed_size));
      EncodeBlockHeader(h, fixed.data() + at);
      at += kBlockHeaderSize + h.compressed_size;
    }
    bytes = fixed;
  }
  size = bytes.size();
  // Named by the base its header states, so that the name check passes.
  const uint64_t base = size >= 24 ? DecodeFixed64(bytes.data() + 16) : 1;
  auto fs = fuzz::LogDirWith(SealedFileName(base), bytes);
  DictionaryStore dicts(fs.get(), "/log");
  auto seg = SealedSegment::Open(fs.get(), "/log", base, &dicts);
  if (!seg.ok()) return 0;
  BlockCodec codec;
  std::vector<std::unique_ptr<std::string>> storage;
  std::vector<BlockEvent> events;
  (*seg)->ReadAll(&codec, &storage, &events, nullptr);
  for (const BlockEvent& e : events) {
    TRACELOG_FUZZ_CHECK(e.sequence >= (*seg)->base() && e.sequence <= (*seg)->last_sequence());
  }
  auto index = (*seg)->Index(&codec);
  if (index.ok()) {
    for (const BlockSummary& b : (*index)->blocks) {
      std::string raw;
      std::vector<BlockEvent> block;
      (*seg)->ReadBlock(b.offset, &codec, &raw, &block).IgnoreError();
    }
  }
  (*seg)->LookupSession(SessionHash("s")).IgnoreError();
  return 0;
}
