#include "engine/format/sealed_format.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <zstd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/file_header.h"
#include "engine/format/segment_format.h"

namespace tracelog {

namespace {

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// A bounds-checked reader over the index body.
struct Cursor {
  const char* p;
  const char* limit;
  bool ok = true;
  uint64_t Varint() {
    uint64_t v = 0;
    if (ok && !GetVarint64(&p, limit, &v)) ok = false;
    return ok ? v : 0;
  }
  uint32_t Varint32() {
    const uint64_t v = Varint();
    if (v > UINT32_MAX) ok = false;
    return static_cast<uint32_t>(v);
  }
  double Double() {
    if (!ok || limit - p < 8) {
      ok = false;
      return 0;
    }
    const double d = DecodeDouble(p);
    p += 8;
    return d;
  }
  std::string String() { return std::string(View()); }
  absl::string_view View() {
    absl::string_view s;
    if (ok && !GetLengthPrefixed(&p, limit, &s)) ok = false;
    return ok ? s : absl::string_view();
  }
  // A count of items each at least `min_bytes` long: rejects counts the
  // remaining input cannot hold, so damage cannot make us allocate wildly.
  uint64_t Count(size_t min_bytes) {
    const uint64_t n = Varint();
    if (n > static_cast<uint64_t>(limit - p) / min_bytes) ok = false;
    return ok ? n : 0;
  }
  IdCounts Counts() {
    IdCounts c(Count(2));
    for (auto& [id, n] : c) {
      id = Varint32();
      n = Varint32();
    }
    return c;
  }
  // Walks counts without keeping them: the sum of the counts, and whether
  // every id is below `ids`.
  uint64_t SkipCounts(uint64_t ids) {
    const uint64_t k = Count(2);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < k && ok; ++i) {
      if (Varint() >= ids) ok = false;
      sum += Varint();
    }
    return sum;
  }
};

void PutDouble(std::string* dst, double d) {
  char buf[8];
  EncodeDouble(buf, d);
  dst->append(buf, 8);
}
void PutCounts(std::string* dst, const IdCounts& c) {
  PutVarint64(dst, c.size());
  for (const auto& [id, n] : c) {
    PutVarint64(dst, id);
    PutVarint64(dst, n);
  }
}

// A session's runs: per run, varints of the offset (the first absolute,
// then the difference to the previous run's), bytes, skip and count.
std::string EncodeRuns(const std::vector<SessionRun>& runs) {
  std::string out;
  uint64_t prev = 0;
  for (const SessionRun& r : runs) {
    PutVarint64(&out, r.offset - prev);
    PutVarint64(&out, r.bytes);
    PutVarint64(&out, r.skip);
    PutVarint64(&out, r.count);
    prev = r.offset;
  }
  return out;
}

}  // namespace

void EncodeSealedHeader(const SealedHeader& h, char* dst) {
  std::memset(dst, 0, kSealedHeaderSize);
  EncodeFixed32(dst + 12, h.block_count);
  EncodeFixed64(dst + 16, h.base_sequence);
  EncodeFixed64(dst + 24, h.last_sequence);
  EncodeFixed64(dst + 32, h.event_count);
  EncodeFixed64(dst + 40, h.data_end);
  EncodeFixed64(dst + 48, h.dict_id);
  SealFileHeader(kSealedMagic, dst);
}

absl::Status DecodeSealedHeader(absl::string_view src, SealedHeader* h) {
  if (auto s = CheckFileHeader(src, kSealedMagic, kSealedHeaderSize, "sealed segment", kOldestSealedVersion); !s.ok()) {
    return s;
  }
  const char* p = src.data();
  h->block_count = DecodeFixed32(p + 12);
  h->base_sequence = DecodeFixed64(p + 16);
  h->last_sequence = DecodeFixed64(p + 24);
  h->event_count = DecodeFixed64(p + 32);
  h->data_end = DecodeFixed64(p + 40);
  h->dict_id = DecodeFixed64(p + 48);
  if (h->event_count == 0 || h->last_sequence < h->base_sequence ||
      h->last_sequence - h->base_sequence + 1 != h->event_count) {
    return absl::DataLossError(absl::StrCat("sealed segment header: sequences ", h->base_sequence,
                                            "..", h->last_sequence, " do not hold ",
                                            h->event_count, " events"));
  }
  if (h->data_end < kSealedHeaderSize) {
    return absl::DataLossError("sealed segment header: bad data end at offset 40");
  }
  return absl::OkStatus();
}

void EncodeBlockHeader(const BlockHeader& h, char* dst) {
  EncodeFixed32(dst, h.compressed_size);
  EncodeFixed32(dst + 4, h.raw_size);
  EncodeFixed64(dst + 8, h.checksum);
}

BlockHeader DecodeBlockHeader(const char* src) {
  BlockHeader h;
  h.compressed_size = DecodeFixed32(src);
  h.raw_size = DecodeFixed32(src + 4);
  h.checksum = DecodeFixed64(src + 8);
  return h;
}

// Raw block: u8 flags (bit 0: a length column follows the sequences; without
// it every event is terminated by '\n'), varint n, n zigzag varint sequence
// deltas (the first from `base`), [n varint lengths], event bytes.
void EncodeRawBlock(uint64_t base, const std::vector<BlockEvent>& events, std::string* dst) {
  bool newline_free = true;
  for (const BlockEvent& e : events) {
    if (e.event.find('\n') != absl::string_view::npos) {
      newline_free = false;
      break;
    }
  }
  dst->push_back(newline_free ? 0 : 1);
  PutVarint64(dst, events.size());
  uint64_t prev = base;
  for (const BlockEvent& e : events) {
    PutVarint64(dst, ZigZag(static_cast<int64_t>(e.sequence - prev)));
    prev = e.sequence;
  }
  if (!newline_free) {
    for (const BlockEvent& e : events) PutVarint64(dst, e.event.size());
  }
  for (const BlockEvent& e : events) {
    dst->append(e.event.data(), e.event.size());
    if (newline_free) dst->push_back('\n');
  }
}

absl::Status DecodeRawBlock(uint64_t base, absl::string_view src, std::vector<BlockEvent>* out) {
  out->clear();
  Cursor c{src.data(), src.data() + src.size()};
  if (src.empty() || static_cast<uint8_t>(src[0]) > 1) {
    return absl::DataLossError("bad block flags");
  }
  const bool lengths = src[0] == 1;
  ++c.p;
  const uint64_t n = c.Count(1);
  out->resize(n);
  uint64_t prev = base;
  for (BlockEvent& e : *out) {
    prev += static_cast<uint64_t>(UnZigZag(c.Varint()));
    e.sequence = prev;
  }
  if (lengths) {
    std::vector<uint64_t> lens(n);
    for (uint64_t& l : lens) l = c.Varint();
    for (size_t i = 0; i < n && c.ok; ++i) {
      if (lens[i] > static_cast<uint64_t>(c.limit - c.p)) {
        c.ok = false;
        break;
      }
      (*out)[i].event = absl::string_view(c.p, lens[i]);
      c.p += lens[i];
    }
  } else {
    for (size_t i = 0; i < n && c.ok; ++i) {
      const void* nl = std::memchr(c.p, '\n', c.limit - c.p);
      if (nl == nullptr) {
        c.ok = false;
        break;
      }
      const char* end = static_cast<const char*>(nl);
      (*out)[i].event = absl::string_view(c.p, end - c.p);
      c.p = end + 1;
    }
  }
  if (!c.ok || c.p != c.limit) {
    out->clear();
    return absl::DataLossError("malformed block contents");
  }
  return absl::OkStatus();
}

std::string SealedFileName(uint64_t base) { return NumberedFileName(base, ".sealed"); }
std::optional<uint64_t> ParseSealedFileName(absl::string_view name) {
  return ParseNumberedFileName(name, ".sealed");
}
std::string IndexFileName(uint64_t base) { return NumberedFileName(base, ".idx"); }
std::optional<uint64_t> ParseIndexFileName(absl::string_view name) {
  return ParseNumberedFileName(name, ".idx");
}

std::string EncodeIndex(const SegmentIndex& index) {
  std::string body;
  PutVarint64(&body, index.types.size());
  for (const auto& t : index.types) PutLengthPrefixed(&body, t);
  PutVarint64(&body, index.tools.size());
  for (const auto& t : index.tools) PutLengthPrefixed(&body, t);
  PutVarint64(&body, index.sessions.size());
  for (const SessionSummary& s : index.sessions) {
    PutLengthPrefixed(&body, s.id);
    PutLengthPrefixed(&body, s.agent);
    PutLengthPrefixed(&body, s.parent);
    body.push_back(s.has_timestamp ? 1 : 0);
    PutDouble(&body, s.first_timestamp);
    PutDouble(&body, s.last_timestamp);
    PutVarint64(&body, s.events);
    PutVarint64(&body, s.tool_calls);
    PutVarint64(&body, s.errors);
    PutCounts(&body, s.types);
  }
  PutVarint64(&body, index.blocks.size());
  for (const BlockSummary& b : index.blocks) {
    PutVarint64(&body, b.offset);
    PutVarint64(&body, b.compressed_size);
    PutVarint64(&body, b.raw_size);
    PutVarint64(&body, b.count);
    PutVarint64(&body, b.min_sequence - index.base_sequence);
    PutVarint64(&body, b.max_sequence - b.min_sequence);
    body.push_back(b.has_timestamp ? 1 : 0);
    PutDouble(&body, b.min_timestamp);
    PutDouble(&body, b.max_timestamp);
    PutCounts(&body, b.sessions);
    PutVarint64(&body, b.combos.size());
    for (const BlockCombo& c : b.combos) {
      PutVarint64(&body, c.type);
      PutVarint64(&body, uint64_t{c.tool} << 1 | (c.error ? 1 : 0));
      PutVarint64(&body, c.count);
    }
  }
  // Readers refuse a larger body (it would need tens of millions of sessions
  // in one segment); such a segment is sealed without an index.
  if (body.size() > kMaxIndexBodySize) return std::string();
  // The body is stored zstd-compressed (flag bit 0 at offset 12): session ids
  // and summaries repeat a lot.
  std::string packed(ZSTD_compressBound(body.size()), '\0');
  const size_t n = ZSTD_compress(packed.data(), packed.size(), body.data(), body.size(), 3);
  uint32_t flags = 0;
  if (!ZSTD_isError(n) && n < body.size()) {
    packed.resize(n);
    flags = 1;
    body.swap(packed);
  }
  std::string out(kIndexHeaderSize, '\0');
  std::string run_area;
  const SessionDirectory dir = BuildSessionDirectory(index, &run_area);
  std::string d;
  PutFixed64(&d, dir.entries.size());
  PutFixed64(&d, run_area.size());
  PutFixed64(&d, dir.has_timestamp ? 1 : 0);
  {
    char t[16];
    EncodeDouble(t, dir.min_timestamp);
    EncodeDouble(t + 8, dir.max_timestamp);
    d.append(t, sizeof(t));
  }
  PutFixed64(&d, 0);  // reserved
  for (const SessionDirEntry& e : dir.entries) {
    PutFixed64(&d, e.hash);
    PutFixed32(&d, e.ordinal);
    PutFixed32(&d, e.events);
    PutFixed32(&d, e.runs_at);
    PutFixed32(&d, e.runs_len);
    PutFixed64(&d, e.runs_checksum);
  }
  PutFixed64(&d, Checksum64(d));
  out += d;
  out += run_area;
  char* h = out.data();
  EncodeFixed32(h + 12, flags);
  EncodeFixed64(h + 16, index.base_sequence);
  EncodeFixed64(h + 24, index.last_sequence);
  EncodeFixed64(h + 32, index.event_count);
  EncodeFixed64(h + 40, index.sealed_size);
  EncodeFixed64(h + 48, body.size());
  SealFileHeader(kIndexMagic, h);
  out += body;
  PutFixed64(&out, Checksum64(body));
  return out;
}

namespace {

// Checks the run area, which follows the session directory at `at` in
// `src`: every entry's slice checks (with `with_sessions` its runs are
// decoded and add up; without, its checksum alone, as lookups decode and
// check the runs), and the slices tile the area.
absl::Status CheckRunArea(absl::string_view src, const SessionDirectory& dir, uint64_t at,
                          bool with_sessions) {
  if (dir.run_bytes > src.size() - at) {
    return absl::DataLossError(absl::StrCat("index: run area of ", dir.run_bytes,
                                            " bytes (offset 72) does not fit the file"));
  }
  std::vector<std::pair<uint64_t, uint64_t>> slices;
  std::vector<SessionRun> runs;
  for (const SessionDirEntry& e : dir.entries) {
    if (e.runs_at > dir.run_bytes || e.runs_len > dir.run_bytes - e.runs_at) {
      return absl::DataLossError("index: a session's runs lie outside the run area");
    }
    const absl::string_view slice = src.substr(at + e.runs_at, e.runs_len);
    if (!with_sessions) {
      if (Checksum64(slice) != e.runs_checksum) {
        return absl::DataLossError(absl::StrCat(
            "index: checksum mismatch in the runs of session ordinal ", e.ordinal,
            " (run area at offset ", at, ")"));
      }
    } else {
      if (auto s = DecodeSessionRuns(slice, e, &runs); !s.ok()) {
        return absl::DataLossError(absl::StrCat(s.message(), " (run area at offset ", at, ")"));
      }
      uint64_t events = 0;
      for (const SessionRun& r : runs) events += r.count;
      if (events != e.events) return absl::DataLossError("index: a session's runs do not add up");
    }
    slices.emplace_back(e.runs_at, e.runs_len);
  }
  std::sort(slices.begin(), slices.end());
  uint64_t end = 0;
  for (const auto& [begin, len] : slices) {
    if (begin != end) {
      return absl::DataLossError("index: the run area is not tiled by its sessions");
    }
    end += len;
  }
  if (end != dir.run_bytes) {
    return absl::DataLossError("index: the run area is not tiled by its sessions");
  }
  return absl::OkStatus();
}

// The index body, which follows the run area at `body_at` in `src`: its
// length and checksum checked, decompressed if it is stored so (then a view
// into a buffer of the thread's, valid until its next call).
absl::StatusOr<absl::string_view> IndexBody(absl::string_view src, uint64_t body_at) {
  const char* h = src.data();
  const uint64_t body_len = DecodeFixed64(h + 48);
  if (body_len > src.size() - body_at || src.size() - body_at - body_len != 8) {
    return absl::DataLossError(absl::StrCat("index body length ", body_len,
                                            " at offset 48 does not match the file size ",
                                            src.size()));
  }
  const absl::string_view body = src.substr(body_at, body_len);
  if (DecodeFixed64(src.data() + body_at + body_len) != Checksum64(body)) {
    return absl::DataLossError(absl::StrCat("index body checksum mismatch at offset ",
                                            body_at + body_len));
  }
  const uint32_t flags = DecodeFixed32(h + 12);
  if (flags > 1) return absl::DataLossError("unknown index flags at offset 12");
  if ((flags & 1) == 0) return body;
  // Reused across calls: a fresh buffer of this size is a fresh mmap whose
  // pages fault in one by one (the CLI loads every segment's index).
  thread_local std::string unpacked;
  const unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return absl::DataLossError("index body is not a zstd frame");
  }
  if (size > kMaxIndexBodySize || size > MaxZstdContentSize(body.size())) {
    return absl::DataLossError(absl::StrCat(
        "index body claims ", size, " bytes decompressed; its ", body.size(),
        "-byte frame can hold at most ", MaxZstdContentSize(body.size()),
        " and the format allows ", kMaxIndexBodySize));
  }
  unpacked.resize(size);
  const size_t n = ZSTD_decompress(unpacked.data(), unpacked.size(), body.data(), body.size());
  if (ZSTD_isError(n) || n != size) return absl::DataLossError("index body does not decompress");
  return absl::string_view(unpacked);
}

// Reads the sessions' summaries from the body: kept if `with_sessions`,
// else walked and checked only. Returns their number.
uint64_t DecodeSessionSummaries(Cursor* c, bool with_sessions, SegmentIndex* index) {
  const uint64_t sessions = c->Count(25);
  if (!with_sessions) {
    for (uint64_t i = 0; i < sessions && c->ok; ++i) {
      c->View();
      c->View();
      c->View();
      if (c->ok && c->p < c->limit) ++c->p;
      c->Double();
      c->Double();
      c->Varint();
      c->Varint();
      c->Varint();
      c->SkipCounts(index->types.size());
    }
    return sessions;
  }
  index->sessions.resize(sessions);
  for (uint64_t i = 0; i < sessions && c->ok; ++i) {
    SessionSummary& s = index->sessions[i];
    s.id = c->String();
    s.agent = c->String();
    s.parent = c->String();
    if (c->ok && c->p < c->limit) s.has_timestamp = *c->p++ != 0;
    s.first_timestamp = c->Double();
    s.last_timestamp = c->Double();
    s.events = c->Varint();
    s.tool_calls = c->Varint();
    s.errors = c->Varint();
    s.types = c->Counts();
    for (const auto& [id, n] : s.types) {
      if (id >= index->types.size()) c->ok = false;
    }
  }
  return sessions;
}

// Reads the blocks' summaries from the body (their session counts kept if
// `with_sessions`), checking that each block's counts add up. Returns the
// number of events in the blocks.
uint64_t DecodeBlockSummaries(Cursor* c, uint64_t sessions, bool with_sessions,
                              SegmentIndex* index) {
  index->blocks.resize(c->Count(25));
  uint64_t position = 0;
  for (BlockSummary& b : index->blocks) {
    b.offset = c->Varint();
    b.compressed_size = c->Varint32();
    b.raw_size = c->Varint32();
    b.count = c->Varint32();
    b.min_sequence = index->base_sequence + c->Varint();
    b.max_sequence = b.min_sequence + c->Varint();
    if (c->ok && c->p < c->limit) b.has_timestamp = *c->p++ != 0;
    b.min_timestamp = c->Double();
    b.max_timestamp = c->Double();
    uint64_t in_runs = 0;
    if (with_sessions) {
      b.sessions = c->Counts();
      for (const auto& [id, n] : b.sessions) {
        if (id >= sessions) c->ok = false;
        in_runs += n;
      }
    } else {
      in_runs = c->SkipCounts(sessions);
    }
    b.combos.resize(c->Count(3));
    uint64_t in_combos = 0;
    for (BlockCombo& combo : b.combos) {
      combo.type = c->Varint32();
      const uint64_t tool = c->Varint();
      combo.tool = static_cast<uint32_t>(tool >> 1);
      combo.error = (tool & 1) != 0;
      combo.count = c->Varint32();
      in_combos += combo.count;
      if (combo.type >= index->types.size() || combo.tool > index->tools.size()) c->ok = false;
    }
    if (in_combos != b.count || in_runs != b.count) c->ok = false;
    position += b.count;
  }
  return position;
}

}  // namespace

absl::Status DecodeIndex(absl::string_view src, SegmentIndex* index, bool with_sessions) {
  if (auto s = CheckFileHeader(src, kIndexMagic, kIndexHeaderSize, "index", kOldestIndexVersion); !s.ok()) return s;
  const char* h = src.data();
  *index = SegmentIndex();
  index->base_sequence = DecodeFixed64(h + 16);
  index->last_sequence = DecodeFixed64(h + 24);
  index->event_count = DecodeFixed64(h + 32);
  index->sealed_size = DecodeFixed64(h + 40);
  auto dir_bytes = SessionDirectoryBytes(src);
  if (!dir_bytes.ok()) return dir_bytes.status();
  SessionDirectory dir;
  if (auto s = DecodeSessionDirectory(src.substr(0, *dir_bytes), &dir); !s.ok()) return s;
  if (auto s = CheckRunArea(src, dir, *dir_bytes, with_sessions); !s.ok()) return s;
  auto body = IndexBody(src, *dir_bytes + dir.run_bytes);
  if (!body.ok()) return body.status();
  Cursor c{body->data(), body->data() + body->size()};
  index->types.resize(c.Count(1));
  for (auto& t : index->types) t = c.String();
  index->tools.resize(c.Count(1));
  for (auto& t : index->tools) t = c.String();
  const uint64_t sessions = DecodeSessionSummaries(&c, with_sessions, index);
  const uint64_t position = DecodeBlockSummaries(&c, sessions, with_sessions, index);
  if (!c.ok || c.p != c.limit || position != index->event_count ||
      dir.entries.size() != sessions) {
    return absl::DataLossError("index body is malformed");
  }
  return absl::OkStatus();
}

uint64_t SessionHash(absl::string_view id) { return Checksum64(id); }

absl::StatusOr<uint64_t> SessionDirectoryBytes(absl::string_view prefix) {
  if (auto s = CheckFileHeader(prefix, kIndexMagic, kIndexPrefixSize, "index", kOldestIndexVersion); !s.ok()) return s;
  // The count is checked by the directory's checksum, which can only be
  // read once the count has sized it: bound it first. Every session has an
  // event in the segment, so there are no more sessions than events (offset
  // 32, under the header checksum).
  const uint64_t n = DecodeFixed64(prefix.data() + kIndexHeaderSize);
  const uint64_t events = DecodeFixed64(prefix.data() + 32);
  if (n > events || n > (1ull << 32)) {
    return absl::DataLossError(absl::StrCat("index: bad session count ", n, " at offset 64 (",
                                            events, " events)"));
  }
  return kIndexHeaderSize + kSessionDirHeaderSize + n * kSessionDirEntrySize + 8;
}

absl::Status DecodeSessionDirectory(absl::string_view src, SessionDirectory* dir,
                                    std::optional<uint64_t> only_hash, bool no_entries) {
  auto size = SessionDirectoryBytes(src);
  if (!size.ok()) return size.status();
  if (src.size() < *size) return absl::DataLossError("index: session directory truncated");
  const char* p = src.data() + kIndexHeaderSize;
  const absl::string_view body(p, *size - kIndexHeaderSize - 8);
  if (DecodeFixed64(p + body.size()) != Checksum64(body)) {
    return absl::DataLossError(absl::StrCat("index: session directory checksum mismatch at offset ",
                                            *size - 8));
  }
  uint64_t n = DecodeFixed64(p);
  dir->run_bytes = DecodeFixed64(p + 8);
  dir->has_timestamp = DecodeFixed64(p + 16) != 0;
  dir->min_timestamp = DecodeDouble(p + 24);
  dir->max_timestamp = DecodeDouble(p + 32);
  if (DecodeFixed64(p + 40) != 0) return absl::DataLossError("index: reserved field at offset 104 is not 0");
  if (dir->run_bytes > (1ull << 40)) {
    return absl::DataLossError(absl::StrCat("index: bad run area size ", dir->run_bytes, " at offset 72"));
  }
  p += kSessionDirHeaderSize;
  if (no_entries) n = 0;
  if (only_hash) {
    // Entries are sorted by hash: the first with the hash, by bisection.
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      if (DecodeFixed64(p + mid * kSessionDirEntrySize) < *only_hash) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    p += lo * kSessionDirEntrySize;
    n -= lo;
    uint64_t same = 0;
    while (same < n && DecodeFixed64(p + same * kSessionDirEntrySize) == *only_hash) ++same;
    n = same;
  }
  dir->entries.resize(n);
  for (SessionDirEntry& e : dir->entries) {
    e.hash = DecodeFixed64(p);
    e.ordinal = DecodeFixed32(p + 8);
    e.events = DecodeFixed32(p + 12);
    e.runs_at = DecodeFixed32(p + 16);
    e.runs_len = DecodeFixed32(p + 20);
    e.runs_checksum = DecodeFixed64(p + 24);
    p += kSessionDirEntrySize;
  }
  return absl::OkStatus();
}

absl::Status DecodeSessionRuns(absl::string_view src, const SessionDirEntry& entry,
                               std::vector<SessionRun>* runs) {
  runs->clear();
  if (src.size() != entry.runs_len) return absl::DataLossError("index: session runs truncated");
  if (Checksum64(src) != entry.runs_checksum) {
    return absl::DataLossError(absl::StrCat("index: checksum mismatch in the runs of session ordinal ",
                                            entry.ordinal));
  }
  Cursor c{src.data(), src.data() + src.size()};
  uint64_t prev = 0;
  while (c.ok && c.p < c.limit) {
    SessionRun r;
    r.offset = prev + c.Varint();
    r.bytes = c.Varint();
    r.skip = c.Varint32();
    r.count = c.Varint32();
    if (r.offset < prev || r.count == 0 || r.bytes <= kBlockHeaderSize) c.ok = false;
    prev = r.offset;
    runs->push_back(r);
  }
  if (!c.ok) {
    runs->clear();
    return absl::DataLossError("index: malformed session runs");
  }
  return absl::OkStatus();
}

SessionDirectory BuildSessionDirectory(const SegmentIndex& index, std::string* run_area) {
  SessionDirectory dir;
  // Each session's runs, in sealed order: a run goes on into the next block
  // when it ends one block and starts the next.
  std::vector<std::vector<SessionRun>> of(index.sessions.size());
  std::vector<uint32_t> events(index.sessions.size(), 0);
  uint32_t open_session = UINT32_MAX;  // the session whose run ended the last block
  for (const BlockSummary& b : index.blocks) {
    if (b.has_timestamp) {
      dir.min_timestamp = dir.has_timestamp ? std::min(dir.min_timestamp, b.min_timestamp)
                                            : b.min_timestamp;
      dir.max_timestamp = dir.has_timestamp ? std::max(dir.max_timestamp, b.max_timestamp)
                                            : b.max_timestamp;
      dir.has_timestamp = true;
    }
    const uint64_t end = b.offset + kBlockHeaderSize + b.compressed_size;
    uint32_t at = 0;  // events of the block before this run
    for (size_t i = 0; i < b.sessions.size(); ++i) {
      const auto& [s, n] = b.sessions[i];
      if (s >= of.size()) break;  // DecodeIndex rejects such an index
      events[s] += n;
      if (i == 0 && s == open_session && !of[s].empty()) {
        SessionRun& r = of[s].back();
        r.bytes = end - r.offset;
        r.count += n;
      } else {
        of[s].push_back(SessionRun{b.offset, end - b.offset, at, n});
      }
      at += n;
    }
    open_session = b.sessions.empty() ? UINT32_MAX : b.sessions.back().first;
  }
  dir.entries.resize(index.sessions.size());
  for (uint32_t i = 0; i < index.sessions.size(); ++i) {
    dir.entries[i].hash = SessionHash(index.sessions[i].id);
    dir.entries[i].ordinal = i;
    dir.entries[i].events = events[i];
  }
  std::sort(dir.entries.begin(), dir.entries.end(),
            [](const SessionDirEntry& a, const SessionDirEntry& b) {
              return a.hash != b.hash ? a.hash < b.hash : a.ordinal < b.ordinal;
            });
  run_area->clear();
  for (SessionDirEntry& e : dir.entries) {
    const std::string mine = EncodeRuns(of[e.ordinal]);
    e.runs_at = static_cast<uint32_t>(run_area->size());
    e.runs_len = static_cast<uint32_t>(mine.size());
    e.runs_checksum = Checksum64(mine);
    run_area->append(mine);
  }
  dir.run_bytes = run_area->size();
  return dir;
}

uint64_t DictionaryId(absl::string_view dict) { return Checksum64(dict) | 1; }

std::string DictFileName(uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "DICT-%016" PRIx64, id);
  return buf;
}

std::optional<uint64_t> ParseDictFileName(absl::string_view name) {
  if (name.size() != 21 || name.substr(0, 5) != "DICT-") return std::nullopt;
  uint64_t v = 0;
  for (char c : name.substr(5)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

std::string EncodeDictFile(absl::string_view dict) {
  std::string out(kDictHeaderSize, '\0');
  EncodeFixed64(out.data() + 16, DictionaryId(dict));
  EncodeFixed64(out.data() + 24, dict.size());
  SealFileHeader(kDictMagic, out.data());
  out.append(dict.data(), dict.size());
  return out;
}

absl::Status DecodeDictFile(absl::string_view src, uint64_t* id, absl::string_view* dict,
                            bool verify_content) {
  if (auto s = CheckFileHeader(src, kDictMagic, kDictHeaderSize, "dictionary", kOldestSealedVersion); !s.ok()) return s;
  *id = DecodeFixed64(src.data() + 16);
  const uint64_t size = DecodeFixed64(src.data() + 24);
  if (size != src.size() - kDictHeaderSize) {
    return absl::DataLossError(absl::StrCat("dictionary size ", size,
                                            " at offset 24 does not match the file"));
  }
  *dict = src.substr(kDictHeaderSize);
  if (verify_content && DictionaryId(*dict) != *id) {
    return absl::DataLossError("dictionary checksum mismatch (content does not match its id)");
  }
  return absl::OkStatus();
}

}  // namespace tracelog
