// JsonValue (settings_json.h): read with simdjson's DOM parser, which keeps
// object members in document order, then copied into the editable tree.

#include "tools/settings_json.h"

#include <simdjson.h>

#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog::cli {
namespace {

namespace dom = simdjson::dom;

JsonValue Literal(std::string text) {
  JsonValue v;
  v.text = std::move(text);
  return v;
}

// The tree for a parsed element (already validated, so every get succeeds).
JsonValue FromDom(dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      JsonValue v = JsonValue::Object();
      for (dom::key_value_pair field : dom::object(e)) {
        v.Add(std::string(field.key), FromDom(field.value));
      }
      return v;
    }
    case dom::element_type::ARRAY: {
      JsonValue v = JsonValue::Array();
      for (dom::element child : dom::array(e)) v.items.push_back(FromDom(child));
      return v;
    }
    case dom::element_type::STRING:
      return JsonValue::String(std::string(std::string_view(e)));
    case dom::element_type::INT64:
      return Literal(absl::StrCat(int64_t(e)));
    case dom::element_type::UINT64:
      return Literal(absl::StrCat(uint64_t(e)));
    case dom::element_type::DOUBLE: {
      // repr(float): shortest round-trip digits, "1.0" stays a double.
      std::string text;
      AppendPyFloat(&text, double(e));
      return Literal(std::move(text));
    }
    case dom::element_type::BOOL:
      return Literal(bool(e) ? "true" : "false");
    case dom::element_type::NULL_VALUE:
      break;
  }
  return Literal("null");
}

// A JSON string literal for UTF-8 `s`: escapes only what JSON requires.
void AppendString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof(esc), "\\u%04x", static_cast<unsigned>(c));
          out->append(esc);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendValue(const JsonValue& v, int indent, std::string* out) {
  switch (v.kind) {
    case JsonValue::Kind::kLiteral:
      out->append(v.text);
      return;
    case JsonValue::Kind::kString:
      AppendString(v.text, out);
      return;
    case JsonValue::Kind::kArray:
    case JsonValue::Kind::kObject:
      break;
  }
  const bool object = v.is_object();
  const size_t n = object ? v.members.size() : v.items.size();
  out->push_back(object ? '{' : '[');
  for (size_t i = 0; i < n; ++i) {
    out->append(i == 0 ? "\n" : ",\n");
    out->append(indent + 2, ' ');
    if (object) {
      AppendString(v.members[i].first, out);
      out->append(": ");
    }
    AppendValue(object ? v.members[i].second : v.items[i], indent + 2, out);
  }
  if (n > 0) {
    out->push_back('\n');
    out->append(indent, ' ');
  }
  out->push_back(object ? '}' : ']');
}

}  // namespace

JsonValue JsonValue::String(std::string value) {
  JsonValue v{Kind::kString};
  v.text = std::move(value);
  return v;
}

JsonValue* JsonValue::Find(absl::string_view name) {
  for (auto& [key, value] : members) {
    if (key == name) return &value;
  }
  return nullptr;
}

const JsonValue* JsonValue::Find(absl::string_view name) const {
  return const_cast<JsonValue*>(this)->Find(name);
}

absl::StatusOr<JsonValue> ParseJson(absl::string_view text) {
  dom::parser parser;
  const simdjson::padded_string padded(text.data(), text.size());
  dom::element root;
  if (auto error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON (", simdjson::error_message(error), ")"));
  }
  return FromDom(root);
}

std::string FormatJson(const JsonValue& value) {
  std::string out;
  AppendValue(value, 0, &out);
  out.push_back('\n');
  return out;
}

}  // namespace tracelog::cli
