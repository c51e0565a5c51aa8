// stats.cache bytes (format-spec/README.md, "Stats cache"): DecodeStatsCache,
// EncodeStatsCache.

#include <cstring>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/query/stats_cache.h"

namespace tracelog {
namespace {

constexpr char kMagic[8] = {'T', 'L', 'S', 'T', 'A', 'T', 'S', '\0'};
constexpr uint32_t kCacheVersion = 1;
constexpr size_t kHeaderSize = 16;  // magic, version, entry count
constexpr size_t kEntryHeaderSize = 40;  // base, last sequence, identity, payload length

}  // namespace

std::string EncodeStatsCache(const std::map<uint64_t, StatsCacheEntry>& entries) {
  std::string out(kMagic, 8);
  PutFixed32(&out, kCacheVersion);
  PutFixed32(&out, static_cast<uint32_t>(entries.size()));
  for (const auto& [base, e] : entries) {
    PutFixed64(&out, base);
    PutFixed64(&out, e.last_sequence);
    PutFixed64(&out, e.identity[0]);
    PutFixed64(&out, e.identity[1]);
    PutFixed64(&out, e.partial.size());
    out += e.partial;
  }
  PutFixed64(&out, Checksum64(out));
  return out;
}


absl::StatusOr<std::map<uint64_t, StatsCacheEntry>> DecodeStatsCache(absl::string_view b) {
  if (b.size() < kHeaderSize + 8 || memcmp(b.data(), kMagic, 8) != 0) {
    return absl::DataLossError("not a stats cache");
  }
  const size_t body = b.size() - 8;
  if (Checksum64(b.data(), body) != DecodeFixed64(b.data() + body)) {
    return absl::DataLossError("checksum mismatch");
  }
  if (DecodeFixed32(b.data() + 8) != kCacheVersion) {
    return absl::DataLossError(absl::StrCat("cache version ", DecodeFixed32(b.data() + 8)));
  }
  std::map<uint64_t, StatsCacheEntry> out;
  const uint32_t n = DecodeFixed32(b.data() + 12);
  size_t at = kHeaderSize;
  for (uint32_t i = 0; i < n; ++i) {
    if (body - at < kEntryHeaderSize) break;
    const uint64_t base = DecodeFixed64(b.data() + at);
    const uint64_t last = DecodeFixed64(b.data() + at + 8);
    const std::array<uint64_t, 2> identity = {DecodeFixed64(b.data() + at + 16),
                                              DecodeFixed64(b.data() + at + 24)};
    const uint64_t len = DecodeFixed64(b.data() + at + 32);
    at += kEntryHeaderSize;
    if (len > body - at) break;
    out[base] = StatsCacheEntry{last, identity, std::string(b.substr(at, len))};
    at += len;
  }
  if (out.size() != n || at != body) {
    return absl::DataLossError(absl::StrCat("malformed entries at byte ", at));
  }
  return out;
}

}  // namespace tracelog
