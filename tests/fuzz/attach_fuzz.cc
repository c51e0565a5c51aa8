// libFuzzer target: an attachment pack (.attach) loaded as readers and
// export load it, every entry's content streamed and checked; and the
// pieces a pack holds decoded alone (record, events layout, IMPORT marker).

#include <string>

#include "engine/format/attachment_format.h"
#include "engine/log/attachments.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  const absl::string_view bytes = fuzz::Bytes(data, size);
  AttachHeader header;
  DecodeAttachHeader(bytes, &header).IgnoreError();
  AttachRecord record;
  DecodeAttachRecord(bytes, &record).IgnoreError();
  EventsLayout layout;
  DecodeEventsLayout(bytes, &layout).IgnoreError();
  uint64_t first;
  DecodeImportMarker(bytes, &first).IgnoreError();

  auto fs = fuzz::LogDirWith(AttachFileName(7), bytes);
  auto store = AttachmentStore::Load(fs.get(), "/log", [](const Corruption& c) {
    TRACELOG_FUZZ_CHECK(c.begin <= c.end);
  });
  if (!store.ok()) return 0;
  auto read = [&](const AttachmentStore::Entry& e) {
    uint64_t got = 0;
    (*store)->ReadTo(e, [&](absl::string_view piece) {
      got += piece.size();
      return absl::OkStatus();
    }).IgnoreError();
    TRACELOG_FUZZ_CHECK(got <= bytes.size());
  };
  for (const auto& [path, e] : (*store)->RootFiles()) read(e);
  for (const std::string& session : (*store)->Sessions()) {
    if (const auto* files = (*store)->SessionFiles(session)) {
      for (const auto& [name, e] : *files) read(e);
    }
    (*store)->Layout(session);
  }
  return 0;
}
