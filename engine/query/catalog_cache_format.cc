// catalog.cache bytes (format-spec/README.md, "Catalog cache").

#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/query/catalog_cache.h"

namespace tracelog {
namespace {

constexpr char kMagic[8] = {'T', 'L', 'C', 'A', 'T', 'L', 'G', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 16;   // magic, version, segment count
constexpr size_t kSegmentSize = 32;  // base, last, identity

void PutDouble(std::string* out, double d) {
  char b[8];
  EncodeDouble(b, d);
  out->append(b, 8);
}

}  // namespace

absl::string_view InternTypeName(absl::string_view name) {
  static std::mutex mu;
  static auto* names = new std::set<std::string, std::less<>>;
  std::lock_guard<std::mutex> l(mu);
  auto it = names->find(name);
  if (it == names->end()) it = names->emplace(name).first;
  return *it;
}

std::string EncodeCatalogCache(const CatalogCache& cache) {
  std::string out(kMagic, 8);
  PutFixed32(&out, kVersion);
  PutFixed32(&out, static_cast<uint32_t>(cache.segments.size()));
  for (const SegmentKey& k : cache.segments) {
    PutFixed64(&out, k.base);
    PutFixed64(&out, k.last);
    PutFixed64(&out, k.identity[0]);
    PutFixed64(&out, k.identity[1]);
  }
  PutVarint64(&out, cache.entries.size());
  for (const CatalogEntry& e : cache.entries) {
    PutLengthPrefixed(&out, e.id);
    PutLengthPrefixed(&out, e.agent);
    PutLengthPrefixed(&out, e.parent);
    PutVarint64(&out, e.has_timestamp ? 1 : 0);
    PutDouble(&out, e.first_timestamp);
    PutDouble(&out, e.last_timestamp);
    PutVarint64(&out, e.events);
    PutVarint64(&out, e.tool_calls);
    PutVarint64(&out, e.errors);
    PutVarint64(&out, e.types.size());
    for (const auto& [type, n] : e.types) {
      PutLengthPrefixed(&out, type);
      PutVarint64(&out, n);
    }
    PutVarint64(&out, e.segments.size());
    for (uint64_t base : e.segments) PutVarint64(&out, base);
  }
  PutFixed64(&out, Checksum64(out));
  return out;
}

absl::StatusOr<CatalogCache> DecodeCatalogCache(absl::string_view b) {
  if (b.size() < kHeaderSize + 8 || memcmp(b.data(), kMagic, 8) != 0) {
    return absl::DataLossError("not a catalog cache");
  }
  const size_t body = b.size() - 8;
  if (Checksum64(b.data(), body) != DecodeFixed64(b.data() + body)) {
    return absl::DataLossError("checksum mismatch");
  }
  if (DecodeFixed32(b.data() + 8) != kVersion) {
    return absl::DataLossError(absl::StrCat("catalog cache version ", DecodeFixed32(b.data() + 8)));
  }
  CatalogCache cache;
  const uint64_t k = DecodeFixed32(b.data() + 12);
  if (k > (body - kHeaderSize) / kSegmentSize) return absl::DataLossError("segment list past the end");
  const char* p = b.data() + kHeaderSize;
  const char* const end = b.data() + body;
  for (uint64_t i = 0; i < k; ++i, p += kSegmentSize) {
    cache.segments.push_back(SegmentKey{DecodeFixed64(p), DecodeFixed64(p + 8),
                                        {DecodeFixed64(p + 16), DecodeFixed64(p + 24)}});
  }
  bool ok = true;
  auto varint = [&]() -> uint64_t {
    uint64_t v = 0;
    if (ok && !GetVarint64(&p, end, &v)) ok = false;
    return ok ? v : 0;
  };
  auto string = [&]() -> absl::string_view {
    absl::string_view s;
    if (ok && !GetLengthPrefixed(&p, end, &s)) ok = false;
    return s;
  };
  auto real = [&]() -> double {
    if (!ok || end - p < 8) {
      ok = false;
      return 0;
    }
    const double d = DecodeDouble(p);
    p += 8;
    return d;
  };
  // Interned once per distinct name, not per entry.
  std::vector<std::pair<absl::string_view, absl::string_view>> interned;  // raw -> interned
  auto intern = [&](absl::string_view name) {
    for (const auto& [raw, kept] : interned) {
      if (raw == name) return kept;
    }
    interned.emplace_back(name, InternTypeName(name));
    return interned.back().second;
  };
  // Each entry takes at least 25 bytes (three empty strings, a flag, two
  // doubles, five counts); a count beyond that is damage.
  const uint64_t n = varint();
  if (!ok || n > static_cast<uint64_t>(end - p) / 25) return absl::DataLossError("entry count past the end");
  cache.entries.resize(n);
  for (uint64_t i = 0; i < n && ok; ++i) {
    CatalogEntry& e = cache.entries[i];
    e.id = std::string(string());
    e.agent = std::string(string());
    e.parent = std::string(string());
    e.has_timestamp = varint() != 0;
    e.first_timestamp = real();
    e.last_timestamp = real();
    e.events = varint();
    e.tool_calls = varint();
    e.errors = varint();
    const uint64_t types = varint();
    if (types > static_cast<uint64_t>(end - p) / 2) ok = false;
    for (uint64_t t = 0; t < types && ok; ++t) {
      const absl::string_view name = string();
      const uint64_t count = varint();
      if (ok) e.types.emplace_back(intern(name), count);
    }
    const uint64_t segments = varint();
    if (segments > static_cast<uint64_t>(end - p)) ok = false;
    for (uint64_t s = 0; s < segments && ok; ++s) e.segments.push_back(varint());
  }
  if (!ok || p != end) return absl::DataLossError("malformed entries");
  return cache;
}

}  // namespace tracelog
