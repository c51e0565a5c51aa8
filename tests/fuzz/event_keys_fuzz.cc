// libFuzzer target: one NDJSON line through the key extractor, validating
// (append, import) and not (readers, which trust validated events), parsed
// in place with padding and from a copy; and through the line reader's
// splitting as an import would see a file.

#include <string>

#include "engine/format/event_keys.h"
#include "engine/format/segment_format.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  static EventKeyExtractor* extractor = new EventKeyExtractor();
  const absl::string_view line = fuzz::Bytes(data, size);
  EventKeys keys;
  const bool valid = extractor->Extract(line, &keys, /*validate=*/true).ok();
  if (valid) {
    // A valid event's keys survive the record encoding.
    std::string encoded;
    EncodeKeys(keys, &encoded);
    EventKeys back;
    TRACELOG_FUZZ_CHECK(DecodeKeys(encoded, &back));
    TRACELOG_FUZZ_CHECK(back.session_id == keys.session_id);
  }
  std::string padded(line);
  padded.append(kExtractPadding, '\0');
  EventKeys in_place;
  extractor->Extract(absl::string_view(padded.data(), size), &in_place, /*validate=*/false,
                     kExtractPadding).IgnoreError();
  EventKeys unvalidated;
  extractor->Extract(line, &unvalidated, /*validate=*/false).IgnoreError();
  std::string scrubbed(line);
  ScrubInvalidUtf8(&scrubbed);
  return 0;
}
