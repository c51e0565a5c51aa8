#ifndef TRACELOG_TOOLS_SETTINGS_JSON_H_
#define TRACELOG_TOOLS_SETTINGS_JSON_H_

// A small editable JSON tree, for changing a settings file another program
// owns (Claude Code's settings.json, `tracelog setup`) without losing what it
// holds: object members keep their order (and any duplicate names), numbers
// keep their kind (integers as integers, other numbers as the shortest digits
// that read back to the same double), and strings keep their UTF-8. The tree
// is written back pretty-printed with a 2-space indent, as JavaScript's
// JSON.stringify(value, null, 2) does, so writing what was read is stable.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog::cli {

struct JsonValue {
  enum class Kind { kLiteral, kString, kArray, kObject };

  static JsonValue String(std::string value);
  static JsonValue Array() { return JsonValue{Kind::kArray}; }
  static JsonValue Object() { return JsonValue{Kind::kObject}; }

  bool is_array() const { return kind == Kind::kArray; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_string() const { return kind == Kind::kString; }

  // The first member named `name` of an object; null when there is none or
  // this is not an object.
  JsonValue* Find(absl::string_view name);
  const JsonValue* Find(absl::string_view name) const;
  // Appends a member (an object's).
  void Add(std::string name, JsonValue value) {
    members.emplace_back(std::move(name), std::move(value));
  }

  Kind kind = Kind::kLiteral;
  // kLiteral: the JSON text of a null, boolean or number ("null", "12",
  // "1.5"); kString: the string's value (UTF-8, not escaped).
  std::string text;
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in order
};

// Parses one JSON document. InvalidArgumentError "not valid JSON (<why>)"
// when it is not one (simdjson gives no byte offset); numbers beyond what a
// uint64 or a double holds are refused the same way.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text);

// `value` as JSON text, 2-space indented, ending in a newline. Strings are
// escaped minimally: '"', '\\' and control characters; other UTF-8 is kept.
std::string FormatJson(const JsonValue& value);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_SETTINGS_JSON_H_
