#include "engine/query/event_match.h"

#include <simdjson.h>

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/format/event_keys.h"  // ScrubInvalidUtf8
#include "re2/re2.h"

namespace tracelog {
namespace {

namespace dom = simdjson::dom;

// PATH (dotted, or a JSON pointer) as a JSON pointer.
absl::StatusOr<std::string> Pointer(absl::string_view flag, absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": the PATH is empty"));
  if (path[0] == '/') return std::string(path);
  std::string out;
  for (absl::string_view key : absl::StrSplit(path, '.')) {
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": '", path, "' has an empty key (write keys with dots as /a/b.c)"));
    }
    out += '/';
    for (char c : key) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

// A value as compared: its kind and, per kind, the number or the text.
struct Value {
  enum class Kind { kString, kNumber, kBool, kNull, kComposite } kind = Kind::kNull;
  double number = 0;
  bool boolean = false;
  std::string text;  // a string's, or a composite's minified JSON
};

std::optional<Value> ValueOf(dom::element e) {
  Value v;
  switch (e.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
      v.kind = Value::Kind::kString;
      v.text = std::string(s);
      break;
    }
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      if (e.get_double().get(v.number) != simdjson::SUCCESS) return std::nullopt;
      v.kind = Value::Kind::kNumber;
      break;
    case dom::element_type::BOOL:
      if (e.get_bool().get(v.boolean) != simdjson::SUCCESS) return std::nullopt;
      v.kind = Value::Kind::kBool;
      break;
    case dom::element_type::NULL_VALUE:
      v.kind = Value::Kind::kNull;
      break;
    default:
      v.kind = Value::Kind::kComposite;
      v.text = simdjson::minify(e);
  }
  return v;
}

bool Equal(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::kNumber:
      return a.number == b.number;
    case Value::Kind::kBool:
      return a.boolean == b.boolean;
    case Value::Kind::kNull:
      return true;
    default:
      return a.text == b.text;
  }
}

struct Where {
  std::string pointer;
  Value want;
};

}  // namespace

struct EventMatcher::Impl {
  std::vector<std::unique_ptr<RE2>> greps;
  std::string grep_pointer;  // "": the whole event
  std::vector<Where> wheres;
  std::vector<std::string> models;
  bool needs_json = false;
  dom::parser parser;
  std::string scrubbed;  // an event with bad UTF-8, replaced
};

EventMatcher::EventMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventMatcher::~EventMatcher() = default;

absl::StatusOr<std::unique_ptr<EventMatcher>> EventMatcher::Create(const ContentFilters& f) {
  auto impl = std::make_unique<Impl>();
  for (const std::string& pattern : f.greps) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(pattern, options);
    if (!re->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--grep '", pattern, "': ", re->error()));
    }
    impl->greps.push_back(std::move(re));
  }
  if (!f.grep_field.empty()) {
    if (f.greps.empty()) return absl::InvalidArgumentError("--grep-field needs --grep");
    auto p = Pointer("--grep-field", f.grep_field);
    if (!p.ok()) return p.status();
    impl->grep_pointer = *p;
  }
  dom::parser value_parser;
  for (const std::string& clause : f.wheres) {
    const size_t eq = clause.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--where '", clause, "': expected PATH=VALUE"));
    }
    auto p = Pointer("--where", absl::string_view(clause).substr(0, eq));
    if (!p.ok()) return p.status();
    Where w;
    w.pointer = *p;
    const std::string value = clause.substr(eq + 1);
    dom::element e;
    std::optional<Value> parsed;
    if (value_parser.parse(value).get(e) == simdjson::SUCCESS) parsed = ValueOf(e);
    if (parsed) {
      w.want = std::move(*parsed);
    } else {
      w.want.kind = Value::Kind::kString;  // not JSON: the text itself
      w.want.text = value;
    }
    impl->wheres.push_back(std::move(w));
  }
  for (const std::string& m : f.models) {
    for (absl::string_view part : absl::StrSplit(m, ',', absl::SkipEmpty())) {
      impl->models.emplace_back(part);
    }
  }
  if (!f.models.empty() && impl->models.empty()) {
    return absl::InvalidArgumentError("--model: no NAME given");
  }
  impl->needs_json = !impl->grep_pointer.empty() || !impl->wheres.empty() || !impl->models.empty();
  return std::unique_ptr<EventMatcher>(new EventMatcher(std::move(impl)));
}

bool EventMatcher::Matches(absl::string_view event) {
  Impl& m = *impl_;
  if (!m.needs_json) {
    for (const auto& re : m.greps) {
      if (!RE2::PartialMatch(re2::StringPiece(event.data(), event.size()), *re)) return false;
    }
    return true;
  }
  dom::element root;
  if (m.parser.parse(event.data(), event.size()).get(root) != simdjson::SUCCESS) {
    // Stored events may hold bad UTF-8 (their keys were read from a copy
    // with it replaced): so are their fields here.
    if (simdjson::validate_utf8(event.data(), event.size())) return false;
    m.scrubbed.assign(event.data(), event.size());
    ScrubInvalidUtf8(&m.scrubbed);
    if (m.parser.parse(m.scrubbed).get(root) != simdjson::SUCCESS) return false;
  }
  if (!m.models.empty()) {
    std::string_view model;
    if (root["data"]["model"].get_string().get(model) != simdjson::SUCCESS) return false;
    bool any = false;
    for (const std::string& want : m.models) any = any || model == want;
    if (!any) return false;
  }
  for (const Where& w : m.wheres) {
    dom::element e;
    if (root.at_pointer(w.pointer).get(e) != simdjson::SUCCESS) return false;
    auto v = ValueOf(e);
    if (!v || !Equal(*v, w.want)) return false;
  }
  if (!m.greps.empty()) {
    std::string text;
    absl::string_view subject = event;
    if (!m.grep_pointer.empty()) {
      dom::element e;
      if (root.at_pointer(m.grep_pointer).get(e) != simdjson::SUCCESS) return false;
      std::string_view s;
      if (e.get_string().get(s) == simdjson::SUCCESS) {
        subject = absl::string_view(s.data(), s.size());
      } else {
        text = simdjson::minify(e);
        subject = text;
      }
    }
    for (const auto& re : m.greps) {
      if (!RE2::PartialMatch(re2::StringPiece(subject.data(), subject.size()), *re)) return false;
    }
  }
  return true;
}

}  // namespace tracelog
