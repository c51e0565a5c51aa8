// Redactor (redactor.h): simdjson's On-Demand API walks the event and
// gives each token's place in the text; RE2 finds the secrets in decoded
// strings.

#include "engine/redact/redactor.h"

#include <hs/hs.h>
#include <re2/re2.h>
#include <simdjson.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tracelog {

namespace {

namespace od = simdjson::ondemand;

// Key names whose values are secrets, normalized (lower case, '-' as '_'):
// a key that is one of them or ends with one ("db_password", "X-Api-Key")
// is one. "token" matches "access_token" but not "max_tokens".
constexpr const char* kSecretKeys[] = {
    "password", "passwd",     "passphrase",  "secret",      "token",
    "api_key",  "apikey",     "access_key",  "private_key", "authorization",
    "credential", "credentials", "cookie",   "set_cookie",  "session_key",
};

// Value patterns. Each has two groups: what is kept before the secret
// (often empty) and the secret itself.
constexpr const char* kPatterns[] = {
    // AWS access key ids.
    R"(()\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b)",
    // GitHub tokens (classic and fine-grained).
    R"(()\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}))",
    // GitLab personal access tokens.
    R"(()\bglpat-[A-Za-z0-9_\-]{20,})",
    // Slack tokens and webhook URLs.
    R"(()\b(?:xox[abposr]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/]+))",
    // OpenAI (sk-, sk-proj-, ...) and Anthropic (sk-ant-...) keys.
    R"(()\bsk-[A-Za-z0-9_\-]{20,})",
    // JSON Web Tokens.
    R"(()\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,})",
    // PEM private keys, whole.
    R"(()-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)-----END [A-Z0-9 ]*PRIVATE KEY-----)",
    // Bearer and Basic credentials.
    R"(((?i)\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/\-]{8,}=*)",
    // The password of a connection string: scheme://user:PASSWORD@host.
    R"((\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/\s@]*:)[^@\s/]+(@))",
    // Command-line options: --password=X, --password X, -p... not (too short).
    R"(((?i)--?(?:password|passwd|secret|token|api[_\-]?key|access[_\-]?key|auth)[= ]\s*)[^\s"']+)",
    // Assignments: PASSWORD=X, DB_SECRET=X, export GITHUB_TOKEN=X.
    R"(((?i)(?:password|passwd|secret|token|api_key|apikey|access_key)\s*[=:]\s*)[^\s"',;&|]+)",
};

// The quick test on an event's JSON text, before it is parsed (Hyperscan):
// whether it may hold a secret at all. Each built-in pattern's start, a
// secret key name where a key ends (`token"` then `:`), a keyword before
// '=' or ':' or after '-', and the escapes that could hide any of them in
// the text ("\u0041KIA", "https:\/\/..."). Whitespace may be written as
// an escape. Most events match none of them and are not parsed.
constexpr const char* kKeyword =
    "(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    "authorization|credentials?|cookie|session[_-]?key)";
constexpr const char* kWhite = R"((?:\s|\\[ntrbf]))";

// For each of kPatterns, in order, a Hyperscan pattern that matches where
// it may (on a decoded string): the string's patterns are run only if it
// does.
std::vector<std::pair<std::string, unsigned>> PatternGates() {
  // Whitespace may also be an escape (kWhite): the same gates serve the
  // quick test on an event's JSON text (QuickTests).
  const unsigned i = HS_FLAG_CASELESS;
  return {
      {R"((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16})", 0},
      {R"(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})", 0},
      {R"(glpat-[A-Za-z0-9_\-]{20})", 0},
      {R"(xox[abposr]-[A-Za-z0-9\-]{10}|hooks\.slack\.com/services/)", 0},
      {R"(sk-[A-Za-z0-9_\-]{20})", 0},
      {R"(eyJ[A-Za-z0-9_\-]{5,}\.eyJ)", 0},
      {R"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)", 0},
      {absl::StrCat("(?:bearer|basic)", kWhite, "+[A-Za-z0-9._~+/\\-]{8}"), i},
      {R"(://[^:/\s@]*:[^@\s/]+@)", 0},
      {absl::StrCat("-(?:", kKeyword, "|auth)[= ]"), i},  // --password x
      {absl::StrCat(kKeyword, kWhite, "*[=:]"), i},       // PASSWORD=, token:
  };
}

// Compiles `patterns` into one Hyperscan database (ids: their indexes).
absl::StatusOr<hs_database_t*> CompileHyperscan(
    const std::vector<std::pair<std::string, unsigned>>& patterns, bool first_match_only) {
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
uint64_t DatabaseKey(const std::vector<std::pair<std::string, unsigned>>& patterns,
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

// Appends `db` as a record of `key`.
void AppendCompiled(const hs_database_t* db, uint64_t key, std::string* out) {
  char* bytes = nullptr;
  size_t n = 0;
  if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) return;
  PutU64(key, out);
  PutU64(n, out);
  out->append(bytes, n);
  std::free(bytes);
}

// The database of `patterns`: loaded from `compiled` if it holds one that
// fits, else compiled. *key: its DatabaseKey.
absl::StatusOr<hs_database_t*> LoadOrCompile(
    const std::vector<std::pair<std::string, unsigned>>& patterns, bool first_match_only,
    absl::string_view compiled, uint64_t* key, bool* loaded) {
  *key = DatabaseKey(patterns, first_match_only);
  if (hs_database_t* db = LoadCompiled(compiled, *key)) {
    *loaded = true;
    return db;
  }
  *loaded = false;
  return CompileHyperscan(patterns, first_match_only);
}

// What a Hyperscan database found in a text.
struct Hits {
  uint64_t ids = 0;  // the patterns that match, as bits (all if the scan failed)
  // Where their matches end (pattern, offset), up to kMaxEnds.
  std::vector<std::pair<unsigned, size_t>> ends;
  bool all_ends = true;  // `ends` holds every match
};
constexpr size_t kMaxEnds = 4096;

Hits Matching(const hs_database_t* db, absl::string_view text) {
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
  // Hyperscan's AVX-512 scanners may load a few bytes past the end of the
  // text (fuzz_redact met a read into an unmapped page right after a
  // buffer, under ASan): scan a copy with slack after it.
  constexpr size_t kSlack = 64;
  thread_local std::string padded;
  padded.assign(text.data(), text.size());
  padded.append(kSlack, '\0');
  if (hs_scan(db, padded.data(), static_cast<unsigned>(text.size()), 0, scratch, on_match,
              &hits) != HS_SUCCESS) {
    hits.ids = ~uint64_t{0};
    hits.all_ends = false;
  }
  return hits;
}

std::vector<std::pair<std::string, unsigned>> QuickTests() {
  std::vector<std::pair<std::string, unsigned>> tests = {
      {R"(\\u)", 0},
      {R"(\\/)", 0},
      {absl::StrCat(kKeyword, "\"", kWhite, "*:"), HS_FLAG_CASELESS},  // a key
  };
  for (auto& gate : PatternGates()) tests.push_back(std::move(gate));
  return tests;
}

// The index in kPatterns of the private-key pattern.
constexpr size_t kPemPattern = 6;

std::string NormalizeKey(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(key);
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
}

// A JSON string literal for UTF-8 `s` (escapes what JSON requires; other
// bytes as they are).
void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  // Runs that need no escape are copied whole.
  size_t run = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    // Eight bytes at a time while none needs an escape (control, '"', '\\').
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    while (k + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + k, 8);
      const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
      const uint64_t special = ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
                               ((backslash - kOnes) & ~backslash);
      if ((special & kHighs) != 0) break;
      k += 8;
    }
    if (k >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[k]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, k - run);
    run = k + 1;
    const char ch = s[k];
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out->append(buf);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

absl::string_view TrimRight(std::string_view s) {
  absl::string_view v(s.data(), s.size());
  return absl::StripTrailingAsciiWhitespace(v);
}

struct Edit {
  size_t at = 0, len = 0;
  std::string text;
};

}  // namespace

struct Redactor::Rules {
  std::vector<std::string> keys;                  // normalized
  std::vector<std::unique_ptr<RE2>> patterns;
  std::vector<std::string> rewrites;              // of each pattern: keeps its first and last groups
  // On an event's text: whether it may hold a secret at all (QuickTests).
  hs_database_t* quick = nullptr;
  // On a decoded string: which of `patterns` may match (PatternGates).
  hs_database_t* gates = nullptr;
  uint64_t quick_key = 0, gates_key = 0;  // DatabaseKey of each
  bool loaded = false;                    // both came from RedactOptions::compiled
  ~Rules() {
    hs_free_database(quick);
    hs_free_database(gates);
  }

  bool Maybe(absl::string_view text) const { return Matching(quick, text).ids != 0; }

  bool SecretKey(absl::string_view key) const {
    const std::string k = NormalizeKey(key);
    for (const std::string& s : keys) {
      if (absl::EndsWith(k, s)) return true;  // "token", "access_token", "accesstoken"
    }
    return false;
  }

  // `text` with its secrets replaced, into *out; whether any was (*out is
  // not touched if not: most strings match no gate and are not copied).
  bool Scrub(absl::string_view text, std::string* out) const {
    Hits hits = Matching(gates, text);
    if (hits.ids == 0) return false;
    std::string s(text);
    bool changed = false;
    // Until nothing changes (at most 8 rounds): one replacement can make
    // another pattern match ("a:b...TOKEN=x/y@h" loses its '/'), and
    // redacting a redacted string must change nothing.
    // The hits are found again after every change: a replacement moves
    // what follows it, and the next pattern's windows are placed by them.
    for (int round = 0; round < 8 && hits.ids != 0; ++round) {
      bool this_round = false;
      for (size_t i = 0; i < patterns.size(); ++i) {
        if ((hits.ids >> i & 1) != 0 && Replace(i, hits, &s)) {
          this_round = true;
          hits = Matching(gates, s);
        }
      }
      if (!this_round) break;
      changed = true;
    }
    if (changed) *out = std::move(s);
    return changed;
  }

  // Whether the gate match ending at `end` in `s` is a secret replaced
  // already: the mark follows it (after spaces: `TOKEN = [REDACTED]`) or
  // ends just before it (`://u:[REDACTED]@`), and a delimiter follows the
  // mark, so no pattern could take more. Such places are not searched
  // again: a string with thousands of assignments would otherwise be
  // searched once more by every round.
  static bool Redacted(absl::string_view s, size_t end) {
    auto delimited = [&](size_t after) {
      return after == s.size() || absl::ascii_isspace(static_cast<unsigned char>(s[after])) ||
             absl::string_view("\"',;&|@").find(s[after]) != absl::string_view::npos;
    };
    if (end > s.size()) return false;
    size_t at = end;
    while (at < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[at]))) ++at;
    if (absl::StartsWith(s.substr(at), kMark) && delimited(at + kMark.size())) return true;
    return end > kMark.size() && s[end - 1] == '@' &&
           s.substr(end - 1 - kMark.size(), kMark.size()) == kMark;
  }

  // Runs pattern `i` over `s`; whether the text changed (a mark put where
  // a mark was is no change). In a long string only around the places
  // where its gate matched: RE2 finding captures over a megabyte costs
  // ~0.5 ms per match. A window reaches kBefore bytes before a gate's match
  // end (the part kept before the secret is shorter) and kAfter after it
  // (the secret); private keys and the user's patterns, whose lengths are
  // not bounded so, always see the whole string.
  bool Replace(size_t i, const Hits& hits, std::string* s) const {
    constexpr size_t kWindowedFrom = 4096, kBefore = 256, kAfter = 16384;
    if (s->size() < kWindowedFrom || !hits.all_ends || i == kPemPattern ||
        i >= std::size(kPatterns)) {
      const std::string before = *s;
      return RE2::GlobalReplace(s, *patterns[i], rewrites[i]) > 0 && *s != before;
    }
    std::vector<std::pair<size_t, size_t>> windows;  // [from, to), in order, disjoint
    for (const auto& [id, end] : hits.ends) {
      if (id != i || Redacted(*s, end)) continue;
      const size_t from = end > kBefore ? end - kBefore : 0;
      const size_t to = std::min(s->size(), end + kAfter);
      if (!windows.empty() && from <= windows.back().second) {
        windows.back().second = std::max(windows.back().second, to);
      } else {
        windows.emplace_back(from, to);
      }
    }
    std::string out;  // built front to back: splicing in place would move the tail each time
    bool changed = false;
    size_t at = 0;
    for (const auto& [from, to] : windows) {
      std::string part = s->substr(from, to - from);
      if (RE2::GlobalReplace(&part, *patterns[i], rewrites[i]) == 0 ||
          absl::string_view(part) == absl::string_view(*s).substr(from, to - from)) {
        continue;
      }
      if (!changed) out.reserve(s->size() + 64);
      changed = true;
      out.append(*s, at, from - at);
      out.append(part);
      at = to;
    }
    if (!changed) return false;
    out.append(*s, at, std::string::npos);
    *s = std::move(out);
    return true;
  }
};

namespace {

// The walk over one event, collecting the edits in text order.
class Walker {
 public:
  Walker(const Redactor::Rules& rules, const char* base) : rules_(rules), base_(base) {}

  simdjson::error_code Value(od::value v) {
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = v.get_object().get(obj)) return e;
        return Object(obj, /*top=*/false);
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        for (auto element : arr) {
          od::value item;
          if (auto e = element.get(item)) return e;
          if (auto e = Value(item)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::string: {
        const std::string_view token = v.raw_json_token();
        std::string_view text;
        if (auto e = v.get_string().get(text)) return e;
        std::string s;
        if (rules_.Scrub(absl::string_view(text.data(), text.size()), &s)) {
          Replace(TrimRight(token), s);
        }
        return simdjson::SUCCESS;
      }
      default:
        return simdjson::SUCCESS;
    }
  }

  simdjson::error_code Object(od::object obj, bool top) {
    for (auto result : obj) {
      od::field field;
      if (auto e = std::move(result).get(field)) return e;
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      if (top && key == "redacted") has_redacted_ = true;
      od::value v = field.value();
      if (rules_.SecretKey(absl::string_view(key.data(), key.size()))) {
        if (auto e = Whole(v)) return e;
      } else if (auto e = Value(v)) {
        return e;
      }
    }
    return simdjson::SUCCESS;
  }

  const std::vector<Edit>& edits() const { return edits_; }
  bool has_redacted() const { return has_redacted_; }

 private:
  // The whole value of a secret key: a string or number becomes the mark,
  // an object or array too (all of it); null and booleans hide nothing.
  simdjson::error_code Whole(od::value v) {
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    std::string_view raw;
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = v.get_object().get(obj)) return e;
        if (auto e = obj.raw_json().get(raw)) return e;
        break;
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        if (auto e = arr.raw_json().get(raw)) return e;
        break;
      }
      case od::json_type::string: {
        std::string_view text;
        raw = v.raw_json_token();
        if (auto e = v.get_string().get(text)) return e;
        if (absl::string_view(text.data(), text.size()) == Redactor::kMark) {
          return simdjson::SUCCESS;  // already
        }
        break;
      }
      case od::json_type::number:
        raw = v.raw_json_token();
        break;
      default:
        return simdjson::SUCCESS;
    }
    Replace(TrimRight(raw), std::string(Redactor::kMark));
    return simdjson::SUCCESS;
  }

  void Replace(absl::string_view token, const std::string& text) {
    Edit e;
    e.at = static_cast<size_t>(token.data() - base_);
    e.len = token.size();
    AppendJsonString(text, &e.text);
    edits_.push_back(std::move(e));
  }

  const Redactor::Rules& rules_;
  const char* const base_;
  std::vector<Edit> edits_;
  bool has_redacted_ = false;
};

}  // namespace

Redactor::Redactor(std::unique_ptr<Rules> rules) : rules_(std::move(rules)) {}
Redactor::~Redactor() = default;

absl::StatusOr<std::unique_ptr<Redactor>> Redactor::Create(const RedactOptions& options) {
  auto rules = std::make_unique<Rules>();
  for (const char* k : kSecretKeys) rules->keys.emplace_back(k);
  for (const std::string& k : options.extra_keys) rules->keys.push_back(NormalizeKey(k));
  // Every pattern has a first group (kept before the mark) and a last one
  // (kept after it); a user's pattern gets empty ones around it.
  std::vector<std::string> sources(std::begin(kPatterns), std::end(kPatterns));
  for (std::string& s : sources) {
    if (RE2(s).NumberOfCapturingGroups() < 2) s += "()";
  }
  for (const std::string& p : options.extra_patterns) {
    RE2 check(p);
    if (!check.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("redaction pattern '", p, "' does not compile: ", check.error()));
    }
    if (check.NumberOfCapturingGroups() > 7) {
      return absl::InvalidArgumentError(
          absl::StrCat("redaction pattern '", p, "' has more than 7 groups"));
    }
    sources.push_back(absl::StrCat("()(?:", p, ")()"));
  }
  if (sources.size() > 64) return absl::InvalidArgumentError("more than 53 redaction patterns");
  RE2::Options o;
  o.set_max_mem(64 << 20);
  for (const std::string& s : sources) {
    auto re = std::make_unique<RE2>(s, o);
    if (!re->ok()) return absl::InternalError(absl::StrCat("built-in pattern: ", re->error()));
    rules->rewrites.push_back(
        absl::StrCat("\\1", kMark, "\\", re->NumberOfCapturingGroups()));
    rules->patterns.push_back(std::move(re));
  }
  // The gates: the built-in ones, then the user's patterns as Hyperscan
  // prefilters (a superset of their matches: constructs Hyperscan lacks are
  // approximated).
  std::vector<std::pair<std::string, unsigned>> gates = PatternGates();
  for (const std::string& p : options.extra_patterns) gates.emplace_back(p, HS_FLAG_PREFILTER);
  bool gates_loaded = false, quick_loaded = false;
  auto gates_db = LoadOrCompile(gates, /*first_match_only=*/false, options.compiled,
                                &rules->gates_key, &gates_loaded);
  if (!gates_db.ok()) return gates_db.status();
  rules->gates = *gates_db;
  // The quick test: the built-in one, the user's keys where a key ends,
  // and the user's patterns.
  std::vector<std::pair<std::string, unsigned>> quick = QuickTests();
  for (const std::string& k : options.extra_keys) {
    quick.emplace_back(absl::StrCat("(?:", RE2::QuoteMeta(k), ")\"", kWhite, "*:"), HS_FLAG_CASELESS);
  }
  for (const std::string& p : options.extra_patterns) quick.emplace_back(p, HS_FLAG_PREFILTER);
  auto quick_db = LoadOrCompile(quick, /*first_match_only=*/true, options.compiled,
                                &rules->quick_key, &quick_loaded);
  if (!quick_db.ok()) return quick_db.status();
  rules->quick = *quick_db;
  rules->loaded = gates_loaded && quick_loaded;
  return std::unique_ptr<Redactor>(new Redactor(std::move(rules)));
}

std::string Redactor::Compiled() const {
  std::string out;
  AppendCompiled(rules_->gates, rules_->gates_key, &out);
  AppendCompiled(rules_->quick, rules_->quick_key, &out);
  PutU64(XXH3_64bits(out.data(), out.size()), &out);
  return out;
}

bool Redactor::loaded_compiled() const { return rules_->loaded; }

absl::StatusOr<bool> Redactor::Redact(absl::string_view event, std::string* out) const {
  if (!rules_->Maybe(event)) return false;
  thread_local od::parser parser;
  thread_local std::string padded;
  // Grown, never shrunk (resizing down and up again would zero-fill the
  // difference each time); only the padding after the event is cleared.
  if (padded.size() < event.size() + simdjson::SIMDJSON_PADDING) {
    padded.resize(event.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(padded.data(), event.data(), event.size());
  std::memset(padded.data() + event.size(), 0, simdjson::SIMDJSON_PADDING);
  // On-Demand checks only what it visits: the whole text is validated
  // first (an event that may hold a secret is rare).
  thread_local simdjson::dom::parser validator;
  simdjson::dom::element whole;
  if (validator.parse(padded.data(), event.size(), /*realloc_if_needed=*/false).get(whole) ||
      !whole.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  od::document doc;
  od::object top;
  if (parser.iterate(padded.data(), event.size(), padded.size()).get(doc) ||
      doc.get_object().get(top)) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  Walker w(*rules_, padded.data());
  if (auto e = w.Object(top, /*top=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", simdjson::error_message(e)));
  }
  // Nothing after the object (its closing brace is then the text's last).
  const char* after = nullptr;  // an error once the whole text was read
  if (doc.current_location().get(after) == simdjson::SUCCESS) {
    return absl::InvalidArgumentError("not valid JSON: text after the object");
  }
  if (w.edits().empty()) return false;
  std::string result;
  result.reserve(event.size() + 32);
  size_t at = 0;
  for (const Edit& e : w.edits()) {
    result.append(event.data() + at, e.at - at);
    result.append(e.text);
    at = e.at + e.len;
  }
  result.append(event.data() + at, event.size() - at);
  if (!w.has_redacted()) {
    // Before the closing brace of the top-level object.
    const size_t close = result.find_last_of('}');
    result.insert(close, ",\"redacted\":true");
  }
  *out = std::move(result);
  return true;
}

}  // namespace tracelog
