// Redactor (redactor.h), the facade: the rules (key names, RE2 patterns
// and the Hyperscan gates in front of them), the walk over an event
// (simdjson On-Demand gives each token's place in the text) and the edits.
// Its parts: hyperscan_db.h (the gates' databases: compiled, cached,
// scanned) and json_string.h (string literals written, read leniently, and
// their offsets mapped).

#include "engine/redact/redactor.h"

#include <hs/hs.h>
#include <re2/re2.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/format/event_keys.h"
#include "engine/format/json_value.h"
#include "engine/redact/hyperscan_db.h"
#include "engine/redact/json_string.h"

namespace tracelog {

namespace {

namespace od = simdjson::ondemand;
using redact::AppendCompiled;
using redact::AppendJsonString;
using redact::Hits;
using redact::HsPatterns;
using redact::LenientlyDecoded;
using redact::LoadOrCompile;
using redact::Matching;
using redact::RawOffsets;

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
// RE2's \s is [\t\n\f\r ]; Hyperscan's also takes \v. The gates use RE2's,
// so that a class that excludes blanks excludes the same ones as the
// pattern it stands for (else a vertical tab in a password hid it).
constexpr const char* kWhite = R"((?:[\t\n\f\r ]|\\[ntrbf]))";

// For each of kPatterns, in order, a Hyperscan pattern that matches where
// it may (on a decoded string): the string's patterns are run only if it
// does.
HsPatterns PatternGates() {
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
      {R"(://[^:/\t\n\f\r @]*:[^@\t\n\f\r /]+@)", 0},
      {absl::StrCat("-(?:", kKeyword, "|auth)[= ]"), i},  // --password x
      {absl::StrCat(kKeyword, kWhite, "*[=:]"), i},       // PASSWORD=, token:
  };
}


HsPatterns QuickTests() {
  HsPatterns tests = {
      {R"(\\u)", 0},
      {R"(\\/)", 0},
      {absl::StrCat(kKeyword, "\"", kWhite, "*:"), HS_FLAG_CASELESS},  // a key
  };
  for (auto& gate : PatternGates()) tests.push_back(std::move(gate));
  return tests;
}

// The index in kPatterns of the private-key pattern.
constexpr size_t kPemPattern = 6;

// Whether pattern k's matches may be searched from near where its gate
// matched (Rules::Replace): no match may start more than a few bytes
// before its gate's match ends and hold a shorter match that ends as far
// (else the search from near would find the shorter one: part of a JWT
// whose first segment is long, or a Bearer credential after 300 blanks,
// stayed). JWTs and Bearer credentials are searched from the last match.
constexpr bool kSearchNear[] = {true, true, true, true, true, false,
                                false, false, true, true, true};
static_assert(std::size(kSearchNear) == std::size(kPatterns));

std::string NormalizeKey(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(key);
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
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
  bool whole_strings = false;             // RedactOptions::whole_strings_for_testing
  ~Rules() {
    hs_free_database(quick);
    hs_free_database(gates);
  }

  // `text` is followed by kScanSlack readable bytes.
  bool Maybe(absl::string_view text) const {
    return Matching(quick, text, /*first_only=*/true, /*slack=*/true).ids != 0;
  }

  bool SecretKey(absl::string_view key) const {
    const std::string k = NormalizeKey(key);
    for (const std::string& s : keys) {
      if (absl::EndsWith(k, s)) return true;  // "token", "access_token", "accesstoken"
    }
    return false;
  }

  // `text` with its secrets replaced, into *out; whether any was (*out is
  // not touched if not: most strings match no gate and are not copied).
  // *spans: where in `text` the marks went ([from, to) each became the
  // mark, in order), when one pass of one pattern made every change (the
  // common case); else empty (then only *out tells).
  bool Scrub(absl::string_view text, std::string* out,
             std::vector<std::pair<size_t, size_t>>* spans) const {
    spans->clear();
    Hits hits = Matching(gates, text);
    if (hits.ids == 0) return false;
    std::string s(text);
    int passes = 0;  // Replace calls that changed s
    bool spans_valid = true;
    // Until nothing changes (at most 8 rounds): one replacement can make
    // another pattern match ("a:b...TOKEN=x/y@h" loses its '/'), and
    // redacting a redacted string must change nothing.
    // The hits are found again after every change: a replacement moves
    // what follows it, and the next pattern's searches are placed by them.
    for (int round = 0; round < 8 && hits.ids != 0; ++round) {
      bool this_round = false;
      for (size_t i = 0; i < patterns.size(); ++i) {
        if ((hits.ids >> i & 1) == 0) continue;
        std::vector<std::pair<size_t, size_t>> marked;
        bool listed = true;
        if (Replace(i, hits, &s, &marked, &listed)) {
          if (++passes == 1) {
            *spans = std::move(marked);
            spans_valid = listed;
          }
          this_round = true;
          hits = Matching(gates, s);
        }
      }
      if (!this_round) break;
    }
    if (passes != 1 || !spans_valid) spans->clear();
    if (passes > 0) *out = std::move(s);
    return passes > 0;
  }

  // Runs pattern `i` over `s`; whether the text changed (a mark put where
  // a mark was is no change). Matches are taken in order as RE2's
  // GlobalReplace takes them, but each search starts near a place where
  // the pattern's gate matched (a gate match lies inside the match it
  // stands for), not where the last match ended: in long tool output the
  // gap would cost more than all the rest. The search begins kBefore bytes
  // before the gate's match end (the part kept before a secret is shorter);
  // when what it finds does not cover that place (a longer prefix, or a
  // gate that matched where the pattern does not), it is done again from
  // the last match's end, which is exact. A search that finds nothing from
  // there ends the pattern. Private keys, the user's patterns and strings
  // with too many gate matches to list go to GlobalReplace whole.
  // *marked: where the marks went ([from, to) of `s` as it was became the
  // mark), unless *listed is set false (GlobalReplace does not tell).
  bool Replace(size_t i, const Hits& hits, std::string* s,
               std::vector<std::pair<size_t, size_t>>* marked, bool* listed) const {
    constexpr size_t kBefore = 256;
    constexpr int kMaxGroups = 9;
    const RE2& re = *patterns[i];
    const int groups = re.NumberOfCapturingGroups();
    if (whole_strings || !hits.all_ends || i == kPemPattern || i >= std::size(kPatterns) ||
        groups > kMaxGroups) {
      *listed = false;
      const std::string before = *s;
      return RE2::GlobalReplace(s, re, rewrites[i]) > 0 && *s != before;
    }
    const absl::string_view text(*s);
    re2::StringPiece m[kMaxGroups + 1];
    std::string out;     // built front to back: splicing in place would move the tail each time
    size_t copied = 0;   // text[0, copied) is in `out`
    size_t pos = 0;      // no match to take starts before this
    bool changed = false;
    // Finds the first match in text[from, end); false if there is none.
    auto find = [&](size_t from) {
      return from <= text.size() &&
             re.Match(re2::StringPiece(text.data(), text.size()), from, text.size(), RE2::UNANCHORED,
                      m, groups + 1);
    };
    // Takes m: the first group, the mark, the last group.
    auto take = [&] {
      const size_t start = static_cast<size_t>(m[0].data() - text.data());
      const size_t stop = start + m[0].size();
      const absl::string_view kept_before(m[1].data(), m[1].size());
      const absl::string_view kept_after(m[groups].data(), m[groups].size());
      pos = stop > start ? stop : stop + 1;
      if (kept_before.size() + kMark.size() + kept_after.size() == m[0].size() &&
          text.substr(start + kept_before.size(), kMark.size()) == kMark) {
        return;  // the mark already
      }
      if (!changed) out.reserve(text.size() + 64);
      changed = true;
      out.append(text.data() + copied, start - copied);
      absl::StrAppend(&out, kept_before, kMark, kept_after);
      marked->emplace_back(start + kept_before.size(), stop - kept_after.size());
      copied = stop;
    };
    for (const auto& hit : hits.ends) {
      const size_t end = hit.second;  // (not a structured binding: clang 14 cannot capture one)
      if (hit.first != i || end <= pos) continue;
      const size_t near = kSearchNear[i] && end > kBefore ? std::max(pos, end - kBefore) : pos;
      bool found = find(near);
      const auto covers = [&] {
        const size_t start = static_cast<size_t>(m[0].data() - text.data());
        return start < end && end <= start + m[0].size();
      };
      if (found && covers()) {
        take();
        continue;
      }
      if (near == pos && !found) break;  // nothing more from here
      // Exact: from the last match's end, every match up to this place.
      while ((found = find(pos))) {
        const size_t start = static_cast<size_t>(m[0].data() - text.data());
        if (start >= end) {  // the gate matched where the pattern does not
          take();
          break;
        }
        take();
        if (pos >= end) break;
      }
      if (!found) break;
    }
    if (!changed) return false;
    out.append(text.data() + copied, text.size() - copied);
    *s = std::move(out);
    return true;
  }
};

namespace {

// The walk over one event, collecting the edits in text order. It reads
// every value, so the event is checked whole as it goes, as ingest checks
// events (json_value.h: Python's NaN and big numbers are read too).
class Walker {
 public:
  Walker(const Redactor::Rules& rules, od::document* doc, std::string_view line)
      : rules_(rules), doc_(doc), line_(line) {}

  simdjson::error_code Value(od::value v) {
    od::json_type type;
    if (v.type().get(type) != simdjson::SUCCESS) return ValidateJsonValue(v, line_, depth_);
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (auto e = v.get_object().get(obj)) return e;
        return Object(obj, /*top=*/false);
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        Deeper deeper(&depth_);
        if (depth_ > kMaxDepth) return simdjson::DEPTH_ERROR;
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
        if (v.get_string().get(text) != simdjson::SUCCESS) return Undecodable(v, token);
        std::string s;
        if (rules_.Scrub(absl::string_view(text.data(), text.size()), &s, &spans_)) {
          const absl::string_view literal = TrimRight(token);
          if (!MarkSpans(literal)) Replace(literal, s);
        }
        return simdjson::SUCCESS;
      }
      default:
        return ValidateJsonValue(v, line_, depth_);
    }
  }

  simdjson::error_code Object(od::object obj, bool top) {
    Deeper deeper(&depth_);
    if (depth_ > kMaxDepth) return simdjson::DEPTH_ERROR;
    for (auto result : obj) {
      od::field field;
      if (auto e = std::move(result).get(field)) return e;
      std::string_view key;
      // A key that does not decode (see Undecodable) names no secret.
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) key = {};
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
  // an object or array too (all of it, read first); null and booleans hide
  // nothing.
  simdjson::error_code Whole(od::value v) {
    od::json_type type;
    if (v.type().get(type) != simdjson::SUCCESS) {
      // NaN, Infinity: read as numbers are.
      const std::string_view raw = ClampedRawToken(v, line_);
      if (auto e = ValidateJsonValue(v, line_, depth_)) return e;
      Replace(TrimRight(raw), std::string(Redactor::kMark));
      return simdjson::SUCCESS;
    }
    std::string_view raw;
    switch (type) {
      case od::json_type::object:
      case od::json_type::array: {
        // From its opening bracket to its closing one, which the walk has
        // just read: the last one before where the document now stands.
        const char* open = ClampedRawToken(v, line_).data();
        if (auto e = ValidateJsonValue(v, line_, depth_)) return e;
        const char* next = nullptr;
        if (open == nullptr || doc_->current_location().get(next) != simdjson::SUCCESS ||
            next <= open || next > line_.data() + line_.size()) {
          return simdjson::TAPE_ERROR;
        }
        const absl::string_view whole =
            TrimRight(std::string_view(open, static_cast<size_t>(next - open)));
        raw = std::string_view(whole.data(), whole.size());
        const char close = type == od::json_type::object ? '}' : ']';
        if (raw.empty() || raw.back() != close) return simdjson::TAPE_ERROR;
        break;
      }
      case od::json_type::string: {
        std::string_view text;
        raw = v.raw_json_token();
        if (v.get_string().get(text) != simdjson::SUCCESS) {  // does not decode: replaced all the same
          od::raw_json_string unread;
          if (auto e = v.get_raw_json_string().get(unread)) return e;
          break;
        }
        if (absl::string_view(text.data(), text.size()) == Redactor::kMark) {
          return simdjson::SUCCESS;  // already
        }
        break;
      }
      case od::json_type::number:
        raw = ClampedRawToken(v, line_);
        if (auto e = ValidateJsonValue(v, line_, depth_)) return e;
        break;
      default:
        return ValidateJsonValue(v, line_, depth_);
    }
    Replace(TrimRight(raw), std::string(Redactor::kMark));
    return simdjson::SUCCESS;
  }

  // A string that does not decode (a lone surrogate, which Python writes,
  // or an escape JSON lacks; writers take both) is searched as
  // LenientlyDecoded reads it (what does not decode as one '?'); if the
  // marks cannot be put where its secrets are written, the whole string
  // becomes the mark.
  simdjson::error_code Undecodable(od::value v, std::string_view token) {
    od::raw_json_string unread;
    if (auto e = v.get_raw_json_string().get(unread)) return e;
    const absl::string_view literal = TrimRight(token);
    if (literal.size() < 2) return simdjson::STRING_ERROR;
    std::string s;
    if (!rules_.Scrub(LenientlyDecoded(literal.substr(1, literal.size() - 2)), &s, &spans_)) {
      return simdjson::SUCCESS;
    }
    if (!MarkSpans(literal)) Replace(literal, std::string(Redactor::kMark));
    return simdjson::SUCCESS;
  }

  // The marks of spans_ put into the string literal `literal` as written;
  // false (nothing done) if the spans cannot be placed there.
  bool MarkSpans(absl::string_view literal) {
    if (spans_.empty() || literal.size() < 2) return false;
    RawOffsets offsets(literal.substr(1, literal.size() - 2));
    const size_t first = edits_.size();
    for (const auto& [from, to] : spans_) {
      size_t raw_from = 0, raw_to = 0;
      if (!offsets.Map(from, &raw_from) || !offsets.Map(to, &raw_to)) {
        edits_.resize(first);
        return false;
      }
      Edit e;
      e.at = static_cast<size_t>(literal.data() + 1 + raw_from - line_.data());
      e.len = raw_to - raw_from;
      e.text.assign(Redactor::kMark.data(), Redactor::kMark.size());  // nothing in it to escape
      edits_.push_back(std::move(e));
    }
    return true;
  }

  void Replace(absl::string_view token, const std::string& text) {
    Edit e;
    e.at = static_cast<size_t>(token.data() - line_.data());
    e.len = token.size();
    AppendJsonString(text, &e.text);
    edits_.push_back(std::move(e));
  }

  // The walk recurses, so it stops somewhere (a line of 17,000 brackets
  // overflowed the stack: fuzz_redact): a little deeper than writers read
  // (json_value.h: 1,024 levels below a top-level value), so that what it
  // refuses for depth they refuse too.
  static constexpr int kMaxDepth = 1100;
  struct Deeper {
    explicit Deeper(int* d) : d_(d) { ++*d_; }
    ~Deeper() { --*d_; }
    int* d_;
  };

  const Redactor::Rules& rules_;
  od::document* const doc_;
  int depth_ = 0;
  const std::string_view line_;
  std::vector<Edit> edits_;
  std::vector<std::pair<size_t, size_t>> spans_;  // Scrub's, of the string at hand
  bool has_redacted_ = false;
};

}  // namespace

Redactor::Redactor(std::unique_ptr<Rules> rules) : rules_(std::move(rules)) {}
Redactor::~Redactor() = default;

absl::StatusOr<std::unique_ptr<Redactor>> Redactor::Create(const RedactOptions& options) {
  auto rules = std::make_unique<Rules>();
  rules->whole_strings = options.whole_strings_for_testing;
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
  HsPatterns gates = PatternGates();
  for (const std::string& p : options.extra_patterns) gates.emplace_back(p, HS_FLAG_PREFILTER);
  bool gates_loaded = false, quick_loaded = false;
  auto gates_db = LoadOrCompile(gates, /*first_match_only=*/false, options.compiled,
                                &rules->gates_key, &gates_loaded);
  if (!gates_db.ok()) return gates_db.status();
  rules->gates = *gates_db;
  // The quick test: the built-in one, the user's keys where a key ends,
  // and the user's patterns.
  HsPatterns quick = QuickTests();
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
  redact::SealCompiled(&out);
  return out;
}

bool Redactor::loaded_compiled() const { return rules_->loaded; }

namespace {

// A copy of `event` with slack for Hyperscan and padding for simdjson after
// it, in a buffer of this thread. Grown, never shrunk (resizing down and up
// again would zero-fill the difference each time); only the padding after
// the event is cleared.
std::string& PaddedCopy(absl::string_view event) {
  thread_local std::string padded;
  if (padded.size() < event.size() + simdjson::SIMDJSON_PADDING) {
    padded.resize(event.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(padded.data(), event.data(), event.size());
  std::memset(padded.data() + event.size(), 0, simdjson::SIMDJSON_PADDING);
  return padded;
}

}  // namespace

bool Redactor::MayHoldSecret(absl::string_view event) const {
  return rules_->Maybe(absl::string_view(PaddedCopy(event).data(), event.size()));
}

absl::StatusOr<bool> Redactor::Redact(absl::string_view event, std::string* out) const {
  std::string& padded = PaddedCopy(event);
  if (!rules_->Maybe(absl::string_view(padded.data(), event.size()))) return false;
  thread_local od::parser parser;
  od::document doc;
  od::object top;
  simdjson::error_code e = parser.iterate(padded.data(), event.size(), padded.size()).get(doc);
  if (e == simdjson::UTF8_ERROR) {
    // Writers take bad UTF-8 (format-spec, "Events"): the copy is read with
    // each bad byte as '?' (so every offset stays), the event kept as it is
    // but for what is replaced.
    std::string scrubbed(padded.data(), event.size());
    ScrubInvalidUtf8(&scrubbed);
    std::memcpy(padded.data(), scrubbed.data(), scrubbed.size());
    e = parser.iterate(padded.data(), event.size(), padded.size()).get(doc);
  }
  if (e || doc.get_object().get(top)) return absl::InvalidArgumentError("not a JSON object");
  Walker w(*rules_, &doc, std::string_view(padded.data(), event.size()));
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
