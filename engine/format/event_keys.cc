#include "engine/format/event_keys.h"

#include <simdjson.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/utf8.h"

namespace tracelog {
namespace {

namespace od = simdjson::ondemand;

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A string key's value: unescaped when possible, else its raw JSON text
// (without the quotes, for strings).
absl::string_view StringOrRaw(od::value value) {
  std::string_view s;
  if (value.get_string().get(s) == simdjson::SUCCESS) return ToAbsl(s);
  std::string_view raw = value.raw_json_token();
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                          raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') raw = raw.substr(1, raw.size() - 2);
  return ToAbsl(raw);
}

bool Truthy(od::value value) {
  od::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return false;
  switch (type) {
    case od::json_type::null: return false;
    case od::json_type::boolean: {
      bool b = false;
      return value.get_bool().get(b) == simdjson::SUCCESS && b;
    }
    case od::json_type::number: {
      double d = 0;
      return value.get_double().get(d) == simdjson::SUCCESS && d != 0;
    }
    case od::json_type::string: {
      std::string_view s;
      return value.get_string().get(s) != simdjson::SUCCESS || !s.empty();
    }
    default: return true;  // objects and arrays
  }
}

}  // namespace

struct EventKeyExtractor::Impl {
  od::parser parser;
  std::string padded;
  bool utf8_error = false;  // the last Parse failed on invalid UTF-8

  absl::Status Parse(const char* buf, size_t len, EventKeys* keys);
};

EventKeyExtractor::EventKeyExtractor() : impl_(std::make_unique<Impl>()) {}
EventKeyExtractor::~EventKeyExtractor() = default;

absl::Status EventKeyExtractor::Extract(absl::string_view line, EventKeys* keys) {
  *keys = EventKeys();
  Impl& im = *impl_;
  if (line.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return absl::InvalidArgumentError("empty line: an event must be a JSON object");
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end.
  im.padded.resize(line.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(im.padded.data(), line.data(), line.size());
  absl::Status s = im.Parse(im.padded.data(), line.size(), keys);
  if (s.ok() || !im.utf8_error) return s;
  // simdjson validates UTF-8 while it indexes; only then scrub and retry.
  *keys = EventKeys();
  im.padded.resize(line.size());
  ScrubInvalidUtf8(&im.padded);
  im.padded.resize(line.size() + simdjson::SIMDJSON_PADDING);
  return im.Parse(im.padded.data(), line.size(), keys);
}

absl::Status EventKeyExtractor::Impl::Parse(const char* buf, size_t len, EventKeys* keys) {
  auto fail = [&](const char* what, simdjson::error_code code,
                  od::document* doc) -> absl::Status {
    std::string where;
    const char* loc = nullptr;
    if (doc != nullptr && doc->current_location().get(loc) == simdjson::SUCCESS && loc >= buf &&
        loc <= buf + len) {
      where = absl::StrCat(" at column ", (loc - buf) + 1);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(what, where, ": ", simdjson::error_message(code)));
  };
  utf8_error = false;
  od::document doc;
  if (auto err = parser.iterate(buf, len, len + simdjson::SIMDJSON_PADDING).get(doc)) {
    utf8_error = err == simdjson::UTF8_ERROR;
    return fail("not JSON", err, nullptr);
  }
  od::object obj;
  if (auto err = doc.get_object().get(obj)) {
    return fail("not a JSON object", err, &doc);
  }
  for (auto field_result : obj) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return fail("malformed JSON object", err, &doc);
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return fail("malformed key", err, &doc);
    od::value value = field.value();
    if (key == "session_id") {
      keys->session_id = StringOrRaw(value);
    } else if (key == "event_type") {
      keys->event_type = StringOrRaw(value);
    } else if (key == "event_id") {
      keys->event_id = StringOrRaw(value);
    } else if (key == "parent_id") {
      keys->parent_id = StringOrRaw(value);
    } else if (key == "timestamp") {
      double ts;
      if (value.get_double().get(ts) == simdjson::SUCCESS) {
        keys->timestamp = ts;
        keys->has_timestamp = true;
      } else {
        keys->timestamp = 0;
        keys->has_timestamp = false;
      }
    } else if (key == "data") {
      od::object data;
      if (value.get_object().get(data) != simdjson::SUCCESS) continue;
      keys->tool_name = {};
      keys->error = false;
      for (auto dfield_result : data) {
        od::field dfield;
        if (auto err = std::move(dfield_result).get(dfield)) return fail("malformed data object", err, &doc);
        std::string_view dkey;
        if (auto err = dfield.unescaped_key().get(dkey)) return fail("malformed key", err, &doc);
        if (dkey == "tool_name") {
          keys->tool_name = StringOrRaw(dfield.value());
        } else if (dkey == "error" || dkey == "is_error") {
          if (Truthy(dfield.value())) keys->error = true;
        }
      }
    }
  }
  // At the end of the document current_location() is OUT_OF_BOUNDS; a
  // location means something follows the object.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return fail("trailing characters after the JSON object", simdjson::TRAILING_CONTENT, &doc);
  }
  if (keys->event_type == "error") keys->error = true;
  return absl::OkStatus();
}

bool ScrubInvalidUtf8(std::string* s) {
  bool changed = false;
  const absl::string_view view(*s);
  for (size_t i = 0; i < s->size();) {
    uint32_t cp;
    const size_t n = DecodeUtf8(view, i, &cp);
    if (n > 0) {
      i += n;
    } else {
      (*s)[i++] = '?';
      changed = true;
    }
  }
  return changed;
}

}  // namespace tracelog
