#ifndef TRACELOG_ENGINE_FORMAT_ATTACHMENT_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_ATTACHMENT_FORMAT_H_

// On-disk layout of attachment packs and of the import marker (byte tables
// in format-spec/README.md, "Imports and attachments"). Constants and pure
// encode/decode only; no I/O.
//
//   <S>.attach   what one import stored besides events: the verbatim files
//                of its session directories (meta.json, annotations.jsonl,
//                ...), the files at the root of the imported tree, and for
//                every session the layout of its events.ndjson (which events
//                are its lines, and the lines that are not events). S is the
//                first sequence of the import.
//   IMPORT       present while an import is in progress: names S. Its
//                segments and pack are not part of the log until it is gone.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

inline constexpr char kAttachMagic[8] = {'T', 'L', 'A', 'T', 'T', 'A', 'C', 'H'};
inline constexpr size_t kAttachHeaderSize = 64;
inline constexpr size_t kAttachRecordHeaderSize = 16;
// The largest payload a record holds (its length is a u32): the kind, the
// length-prefixed session id and name, and the content.
inline constexpr uint64_t kMaxAttachPayload = 0xFFFFFFFFull;
// Whether a record of this session id, name and content size fits
// (counting each length prefix at its largest, 10 bytes).
inline bool AttachRecordFits(uint64_t session_bytes, uint64_t name_bytes, uint64_t content_bytes) {
  return 1 + 20 + session_bytes + name_bytes + content_bytes <= kMaxAttachPayload;
}
inline constexpr char kImportMarkerFileName[] = "IMPORT";

std::string AttachFileName(uint64_t first_sequence);  // 20 digits + ".attach"
std::optional<uint64_t> ParseAttachFileName(absl::string_view name);

struct AttachHeader {
  uint64_t first_sequence = 0;  // of the import (equals the file name)
  uint64_t records = 0;
  uint64_t data_end = 0;  // the file size
};
void EncodeAttachHeader(const AttachHeader& h, char* dst);  // kAttachHeaderSize bytes
absl::Status DecodeAttachHeader(absl::string_view src, AttachHeader* h);

// Which lines of a session's events.ndjson are events, and what the others
// are, so that the file is written back byte for byte.
struct EventsLayout {
  uint64_t file_bytes = 0;    // size of the file as imported
  uint64_t file_hash = 0;     // XXH3-64 of its bytes
  bool final_newline = true;  // it ends with "\n" (or is empty)
  // Its event lines, in file order: these sequence ranges, concatenated.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // (first sequence, count)
  uint64_t lines = 0;  // all lines: events and others
  // The lines that are not events (blank ones, and with --on-error=skip the
  // ones that are not JSON objects), verbatim without their "\n", by line
  // index (0-based, ascending).
  std::vector<std::pair<uint64_t, std::string>> others;
  // Events of earlier imports of the file that this one replaced
  // (--replace): in the log, but no longer lines of the file.
  std::vector<std::pair<uint64_t, uint64_t>> superseded;  // (first sequence, count)
  uint64_t events() const;
};
std::string EncodeEventsLayout(const EventsLayout& layout);
absl::Status DecodeEventsLayout(absl::string_view src, EventsLayout* layout);

enum class AttachKind : uint8_t {
  kSessionFile = 1,  // a file of a session directory; name: its relative path
  kEventsLayout = 2, // the session's events.ndjson layout; name: "events.ndjson"
  kRootFile = 3,     // a file at the root of the imported tree; session empty
};
struct AttachRecord {
  AttachKind kind = AttachKind::kSessionFile;
  std::string session;
  std::string name;
  std::string content;  // file bytes, or EncodeEventsLayout()
};
// Appends one record (header and payload) to *dst.
void EncodeAttachRecord(const AttachRecord& r, std::string* dst);
// A record in pieces, for contents streamed rather than held (the payload
// is the prefix, then the content): the start of the payload before the
// content, and the record header once the payload's size and checksum are
// known (kAttachRecordHeaderSize bytes at dst).
std::string EncodeAttachPrefix(AttachKind kind, absl::string_view session, absl::string_view name);
void EncodeAttachRecordHeader(uint32_t payload_size, uint64_t payload_checksum, char* dst);
// The kind, session and name at the start of `payload` (which may hold
// only part of the content) and the size of that prefix. DataLossError on
// damage, or when `payload` ends within the prefix.
absl::Status DecodeAttachPrefix(absl::string_view payload, AttachKind* kind, std::string* session,
                                std::string* name, size_t* prefix_size);
// The payload length and checksum in the record header at the start of
// `src`; DataLossError when it is shorter than a header or its reserved
// bytes are not zero.
absl::Status DecodeAttachRecordHeader(absl::string_view src, uint32_t* payload_size,
                                      uint64_t* payload_checksum);
// The payload length at `src` (a record header), checking nothing else.
uint32_t AttachPayloadSize(const char* src);
// Decodes the record whose header is at the start of `src` (header and
// payload, exactly). DataLossError on any damage.
absl::Status DecodeAttachRecord(absl::string_view src, AttachRecord* r);

// The import marker's text ("first_sequence=<S>\n").
std::string EncodeImportMarker(uint64_t first_sequence);
absl::Status DecodeImportMarker(absl::string_view text, uint64_t* first_sequence);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_ATTACHMENT_FORMAT_H_
