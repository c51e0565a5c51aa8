#include "engine/redact/hyperscan_db.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tracelog::redact {
namespace {

// Compiles `patterns` into one Hyperscan database (ids: their indexes).
absl::StatusOr<hs_database_t*> CompileHyperscan(
    const HsPatterns& patterns, bool first_match_only) {
  std::vector<const char*> expressions;
  std::vector<unsigned> flags, ids;
  for (size_t k = 0; k < patterns.size(); ++k) {
    expressions.push_back(patterns[k].first.c_str());
    flags.push_back(patterns[k].second | HS_FLAG_ALLOWEMPTY |
                    (first_match_only ? HS_FLAG_SINGLEMATCH : 0u));
    ids.push_back(static_cast<unsigned>(k));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr, &db,
                       &error) != HS_SUCCESS) {
    const std::string why = absl::StrCat(
        error->expression >= 0 ? patterns[error->expression].first : std::string("the patterns"),
        ": ", error->message);
    hs_free_compile_error(error);
    return absl::InvalidArgumentError(absl::StrCat("redaction pattern ", why));
  }
  return db;
}

// Compiled databases carried from one process to the next
// (RedactOptions::compiled, Redactor::Compiled): records of an 8-byte key
// (DatabaseKey), an 8-byte length and Hyperscan's serialized database,
// then an 8-byte XXH3 of all before. Compiling takes most of a short-lived
// writer's start; loading a fitting one is quick.
uint64_t DatabaseKey(const HsPatterns& patterns,
                     bool first_match_only) {
  hs_platform_info_t platform{};
  hs_populate_platform(&platform);
  std::string all = absl::StrCat(hs_version(), "|", platform.tune, "|", platform.cpu_features, "|",
                                 first_match_only ? 1 : 0);
  for (const auto& [p, flags] : patterns) absl::StrAppend(&all, "|", p.size(), ":", p, "/", flags);
  return XXH3_64bits(all.data(), all.size());
}

void PutU64(uint64_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 8); }
uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The database of `key` in `compiled`, or null if there is none that loads.
hs_database_t* LoadCompiled(absl::string_view compiled, uint64_t key) {
  if (compiled.size() < 8 ||
      XXH3_64bits(compiled.data(), compiled.size() - 8) != GetU64(compiled.end() - 8)) {
    return nullptr;
  }
  compiled.remove_suffix(8);
  while (compiled.size() >= 16) {
    const uint64_t k = GetU64(compiled.data()), n = GetU64(compiled.data() + 8);
    compiled.remove_prefix(16);
    if (n > compiled.size()) return nullptr;
    if (k == key) {
      hs_database_t* db = nullptr;
      if (hs_deserialize_database(compiled.data(), n, &db) != HS_SUCCESS) return nullptr;
      return db;
    }
    compiled.remove_prefix(n);
  }
  return nullptr;
}

}  // namespace

void AppendCompiled(const hs_database_t* db, uint64_t key, std::string* out) {
  char* bytes = nullptr;
  size_t n = 0;
  if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) return;
  PutU64(key, out);
  PutU64(n, out);
  out->append(bytes, n);
  std::free(bytes);
}

void SealCompiled(std::string* out) { PutU64(XXH3_64bits(out->data(), out->size()), out); }

absl::StatusOr<hs_database_t*> LoadOrCompile(
    const HsPatterns& patterns, bool first_match_only,
    absl::string_view compiled, uint64_t* key, bool* loaded) {
  *key = DatabaseKey(patterns, first_match_only);
  if (hs_database_t* db = LoadCompiled(compiled, *key)) {
    *loaded = true;
    return db;
  }
  *loaded = false;
  return CompileHyperscan(patterns, first_match_only);
}

Hits Matching(const hs_database_t* db, absl::string_view text, bool first_only, bool slack) {
  Hits hits;
  // Scratch space per thread, grown once for each database it meets.
  thread_local hs_scratch_t* scratch = nullptr;
  thread_local std::vector<const hs_database_t*> fitted;
  if (std::find(fitted.begin(), fitted.end(), db) == fitted.end()) {
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
      hits.ids = ~uint64_t{0};
      hits.all_ends = false;
      return hits;
    }
    fitted.push_back(db);
  }
  auto on_match = [](unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) {
    Hits* h = static_cast<Hits*>(ctx);
    h->ids |= uint64_t{1} << (id & 63);
    if (h->ends.size() < kMaxEnds) {
      h->ends.emplace_back(id, static_cast<size_t>(to));
    } else {
      h->all_ends = false;
    }
    return 0;
  };
  auto on_first = [](unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
    static_cast<Hits*>(ctx)->ids |= uint64_t{1} << (id & 63);
    return 1;  // stop
  };
  const char* data = text.data();
  if (!slack) {
    thread_local std::string padded;
    padded.assign(text.data(), text.size());
    padded.append(kScanSlack, '\0');
    data = padded.data();
  }
  const hs_error_t e = hs_scan(db, data, static_cast<unsigned>(text.size()), 0, scratch,
                               first_only ? +on_first : +on_match, &hits);
  if (e != HS_SUCCESS && !(first_only && e == HS_SCAN_TERMINATED)) {
    hits.ids = ~uint64_t{0};
    hits.all_ends = false;
  }
  return hits;
}

}  // namespace tracelog::redact
