#include "engine/format/attachment_format.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/file_header.h"
#include "engine/format/segment_format.h"

namespace tracelog {

namespace {

// Attachment packs first appeared in format 3.
constexpr uint32_t kOldestAttachVersion = 3;

bool GetVarint(absl::string_view* in, uint64_t* v) {
  const char* p = in->data();
  if (!GetVarint64(&p, in->data() + in->size(), v)) return false;
  in->remove_prefix(p - in->data());
  return true;
}

bool GetString(absl::string_view* in, absl::string_view* s) {
  const char* p = in->data();
  if (!GetLengthPrefixed(&p, in->data() + in->size(), s)) return false;
  in->remove_prefix(p - in->data());
  return true;
}

}  // namespace

std::string AttachFileName(uint64_t first_sequence) {
  return NumberedFileName(first_sequence, ".attach");
}

std::optional<uint64_t> ParseAttachFileName(absl::string_view name) {
  return ParseNumberedFileName(name, ".attach");
}

void EncodeAttachHeader(const AttachHeader& h, char* dst) {
  std::memset(dst, 0, kAttachHeaderSize);
  EncodeFixed64(dst + 16, h.first_sequence);
  EncodeFixed64(dst + 24, h.records);
  EncodeFixed64(dst + 32, h.data_end);
  SealFileHeader(kAttachMagic, dst);
}

absl::Status DecodeAttachHeader(absl::string_view src, AttachHeader* h) {
  if (auto s = CheckFileHeader(src, kAttachMagic, kAttachHeaderSize, "attachment pack",
                               kOldestAttachVersion);
      !s.ok()) {
    return s;
  }
  const char* p = src.data();
  if (DecodeFixed32(p + 12) != 0) return absl::DataLossError("attachment pack: reserved bytes at offset 12");
  h->first_sequence = DecodeFixed64(p + 16);
  h->records = DecodeFixed64(p + 24);
  h->data_end = DecodeFixed64(p + 32);
  for (size_t at = 40; at < 56; ++at) {
    if (p[at] != 0) return absl::DataLossError("attachment pack: reserved bytes at offset 40");
  }
  if (h->data_end < kAttachHeaderSize) return absl::DataLossError("attachment pack: bad data end at offset 32");
  return absl::OkStatus();
}

uint64_t EventsLayout::events() const {
  uint64_t n = 0;
  for (const auto& [first, count] : ranges) n += count;
  return n;
}

std::string EncodeEventsLayout(const EventsLayout& l) {
  std::string out;
  PutVarint64(&out, l.file_bytes);
  PutFixed64(&out, l.file_hash);
  out.push_back(l.final_newline ? 1 : 0);
  PutVarint64(&out, l.ranges.size());
  uint64_t prev = 0;
  for (const auto& [first, count] : l.ranges) {
    PutVarint64(&out, first - prev);  // ranges ascend
    PutVarint64(&out, count);
    prev = first;
  }
  PutVarint64(&out, l.lines);
  PutVarint64(&out, l.others.size());
  for (const auto& [line, bytes] : l.others) {
    PutVarint64(&out, line);
    PutLengthPrefixed(&out, bytes);
  }
  PutVarint64(&out, l.superseded.size());
  for (const auto& [first, count] : l.superseded) {
    PutVarint64(&out, first);
    PutVarint64(&out, count);
  }
  return out;
}

absl::Status DecodeEventsLayout(absl::string_view in, EventsLayout* l) {
  *l = EventsLayout();
  auto bad = [] { return absl::DataLossError("malformed events layout"); };
  uint64_t n;
  if (!GetVarint(&in, &l->file_bytes) || in.size() < 9) return bad();
  l->file_hash = DecodeFixed64(in.data());
  const uint8_t flags = static_cast<uint8_t>(in[8]);
  if (flags > 1) return bad();
  l->final_newline = flags == 1;
  in.remove_prefix(9);
  if (!GetVarint(&in, &n) || n > in.size()) return bad();
  uint64_t prev = 0, events = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta, count;
    if (!GetVarint(&in, &delta) || !GetVarint(&in, &count) || count == 0) return bad();
    if (i > 0 && delta < l->ranges.back().second) return bad();  // ranges do not overlap
    prev += delta;
    l->ranges.emplace_back(prev, count);
    events += count;
  }
  if (!GetVarint(&in, &l->lines) || !GetVarint(&in, &n) || n > in.size()) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t line;
    absl::string_view bytes;
    if (!GetVarint(&in, &line) || !GetString(&in, &bytes)) return bad();
    if (line >= l->lines || (i > 0 && line <= l->others.back().first)) return bad();
    l->others.emplace_back(line, std::string(bytes));
  }
  if (!GetVarint(&in, &n) || n > in.size()) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t first, count;
    if (!GetVarint(&in, &first) || !GetVarint(&in, &count) || count == 0) return bad();
    l->superseded.emplace_back(first, count);
  }
  if (!in.empty() || events + l->others.size() != l->lines) return bad();
  return absl::OkStatus();
}

std::string EncodeAttachPrefix(AttachKind kind, absl::string_view session, absl::string_view name) {
  std::string prefix;
  prefix.push_back(static_cast<char>(kind));
  PutLengthPrefixed(&prefix, session);
  PutLengthPrefixed(&prefix, name);
  return prefix;
}

void EncodeAttachRecordHeader(uint32_t payload_size, uint64_t payload_checksum, char* dst) {
  EncodeFixed32(dst, payload_size);
  EncodeFixed32(dst + 4, 0);  // reserved
  EncodeFixed64(dst + 8, payload_checksum);
}

void EncodeAttachRecord(const AttachRecord& r, std::string* dst) {
  std::string payload = EncodeAttachPrefix(r.kind, r.session, r.name);
  payload += r.content;
  char header[kAttachRecordHeaderSize];
  EncodeAttachRecordHeader(static_cast<uint32_t>(payload.size()), Checksum64(payload), header);
  dst->append(header, sizeof(header));
  dst->append(payload);
}

uint32_t AttachPayloadSize(const char* src) { return DecodeFixed32(src); }

absl::Status DecodeAttachRecordHeader(absl::string_view src, uint32_t* payload_size,
                                      uint64_t* payload_checksum) {
  if (src.size() < kAttachRecordHeaderSize) return absl::DataLossError("attachment record truncated");
  if (DecodeFixed32(src.data() + 4) != 0) return absl::DataLossError("attachment record: reserved bytes");
  *payload_size = DecodeFixed32(src.data());
  *payload_checksum = DecodeFixed64(src.data() + 8);
  return absl::OkStatus();
}

absl::Status DecodeAttachPrefix(absl::string_view payload, AttachKind* kind, std::string* session,
                                std::string* name, size_t* prefix_size) {
  const size_t total = payload.size();
  if (payload.empty()) return absl::DataLossError("empty attachment record");
  const uint8_t k = static_cast<uint8_t>(payload[0]);
  if (k < 1 || k > 3) return absl::DataLossError(absl::StrCat("unknown attachment kind ", k));
  payload.remove_prefix(1);
  absl::string_view s, n;
  if (!GetString(&payload, &s) || !GetString(&payload, &n)) {
    return absl::DataLossError("malformed attachment record");
  }
  *kind = static_cast<AttachKind>(k);
  *session = std::string(s);
  *name = std::string(n);
  *prefix_size = total - payload.size();
  return absl::OkStatus();
}

absl::Status DecodeAttachRecord(absl::string_view src, AttachRecord* r) {
  uint32_t len = 0;
  uint64_t checksum = 0;
  if (auto s = DecodeAttachRecordHeader(src, &len, &checksum); !s.ok()) return s;
  if (src.size() - kAttachRecordHeaderSize != len) {
    return absl::DataLossError("attachment record length does not match");
  }
  absl::string_view payload = src.substr(kAttachRecordHeaderSize);
  if (Checksum64(payload) != checksum) {
    return absl::DataLossError("attachment record checksum mismatch");
  }
  size_t prefix = 0;
  if (auto s = DecodeAttachPrefix(payload, &r->kind, &r->session, &r->name, &prefix); !s.ok()) {
    return s;
  }
  r->content = std::string(payload.substr(prefix));
  return absl::OkStatus();
}

std::string EncodeImportMarker(uint64_t first_sequence) {
  return absl::StrCat("# an import is in progress: its events (from this sequence on) and its\n"
                      "# attachment pack are not part of the log until this file is gone\n"
                      "first_sequence=", first_sequence, "\n");
}

absl::Status DecodeImportMarker(absl::string_view text, uint64_t* first_sequence) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "first_sequence=") && absl::SimpleAtoi(line, first_sequence) &&
        *first_sequence > 0) {
      return absl::OkStatus();
    }
  }
  return absl::DataLossError("IMPORT: no first_sequence=<n> line");
}

}  // namespace tracelog
