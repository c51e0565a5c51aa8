#ifndef TRACELOG_ENGINE_REDACT_REDACTOR_H_
#define TRACELOG_ENGINE_REDACT_REDACTOR_H_

// Secrets taken out of an event before it is stored (issue 17): the values
// of fields whose key names a secret (`password`, `api_key`,
// `authorization`, ... at any depth) and the parts of any string that look
// like one (cloud and API keys, tokens, JWTs, private keys, `Bearer ...`,
// passwords in connection strings and in command-line assignments) become
// "[REDACTED]". Strings are matched as decoded (a key written with JSON
// escapes is found all the same); only the changed tokens of the event's
// text are rewritten, the rest stays byte for byte, and a changed event gets
// a top-level "redacted": true. Deterministic: the same input gives the same
// output. The rules are in format-spec/README.md ("Redaction"); ingest
// (append, serve, hook) does not apply them yet (issue 17).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog {

struct RedactOptions {
  // More key names whose values are secrets (compared as the built-in ones:
  // case-insensitive, '-' and '_' alike, as the whole key or its ending).
  std::vector<std::string> extra_keys;
  // More value patterns (RE2 syntax); every match becomes "[REDACTED]".
  std::vector<std::string> extra_patterns;
  // The matchers as an earlier Create compiled them (Redactor::Compiled()):
  // used where they fit these rules, this Hyperscan and this CPU, ignored
  // (compiled afresh) otherwise or when damaged. Compiling is most of a
  // short-lived writer's start (bench/RESULTS.md). Default: none.
  std::string compiled;
  // Testing: every pattern runs over every string whole (RE2's
  // GlobalReplace), the reference that the search near the gates' matches
  // must equal. Default: false.
  bool whole_strings_for_testing = false;
};

class Redactor {
 public:
  // InvalidArgumentError naming a pattern that does not compile.
  static absl::StatusOr<std::unique_ptr<Redactor>> Create(const RedactOptions& options = {});
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // `event` (one JSON object) with its secrets replaced, into *out; returns
  // whether anything was replaced (*out is left alone if not). An event
  // whose text holds nothing that looks like a secret is not parsed (false);
  // one that does is read whole, as writers read events (json_value.h), and
  // one that is not a JSON object is an InvalidArgumentError. Thread-safe.
  absl::StatusOr<bool> Redact(absl::string_view event, std::string* out) const;

  // The first test Redact makes, alone: whether `event`'s text may hold a
  // secret (if not, Redact returns false without parsing it). For the
  // benchmarks: its cost is the floor of Redact's on every event.
  bool MayHoldSecret(absl::string_view event) const;

  // The compiled matchers, for RedactOptions::compiled of a later Create.
  std::string Compiled() const;
  // Whether Create took them from RedactOptions::compiled.
  bool loaded_compiled() const;

  // The replacement text.
  static constexpr absl::string_view kMark = "[REDACTED]";

  struct Rules;  // the compiled rules (redactor.cc)

 private:
  explicit Redactor(std::unique_ptr<Rules> rules);
  std::unique_ptr<Rules> rules_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_REDACT_REDACTOR_H_
