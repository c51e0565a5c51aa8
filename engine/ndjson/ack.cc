#include "engine/ndjson/ack.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog {

void AppendAckId(absl::string_view id, std::string* out) {
  const bool plain = !id.empty() && std::all_of(id.begin(), id.end(), [](char ch) {
    const unsigned char c = static_cast<unsigned char>(ch);
    return c > ' ' && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out->append(id.data(), id.size());
  } else {
    AppendPyJsonString(out, id);
  }
}

void AppendAckLine(uint64_t sequence, absl::string_view event_id, std::string* out) {
  absl::StrAppend(out, sequence, " ");
  AppendAckId(event_id, out);
  out->push_back('\n');
}

}  // namespace tracelog
