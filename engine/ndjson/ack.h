#ifndef TRACELOG_ENGINE_NDJSON_ACK_H_
#define TRACELOG_ENGINE_NDJSON_ACK_H_

// Acknowledgement lines: what `tracelog append --ack` prints and what
// `tracelog serve` answers, "<sequence> <event_id>\n" per event.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tracelog {

// An ack line's event_id: as it is when it is plain (printable ASCII
// without a space, '"' or a backslash), else as a JSON string literal (ASCII
// only, every control character escaped). Either way one token on one line:
// an id cannot add a line or a field of its own, and a reader tells the
// two forms apart by the leading '"'.
void AppendAckId(absl::string_view id, std::string* out);

// Appends "<sequence> <event_id>\n".
void AppendAckLine(uint64_t sequence, absl::string_view event_id, std::string* out);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_ACK_H_
