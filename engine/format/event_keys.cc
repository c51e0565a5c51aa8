#include "engine/format/event_keys.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/utf8.h"

namespace tracelog {
namespace {

namespace od = simdjson::ondemand;

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The line Parse() is reading. In a line whose brackets do not close,
// validation can walk past the last structural index, where simdjson's
// sentinels (len, len, 0) make raw_json_token() a view of 4 GiB - len bytes
// (found by fuzzing: a read far past the buffer). Every raw token is
// clamped to the line.
thread_local const char* tl_line_begin = nullptr;
thread_local const char* tl_line_end = nullptr;

std::string_view RawToken(od::value& value) {
  const std::string_view raw = value.raw_json_token();
  if (raw.data() < tl_line_begin || raw.data() >= tl_line_end) return std::string_view();
  return raw.substr(0, std::min<size_t>(raw.size(), tl_line_end - raw.data()));
}

// A string key's value: unescaped when possible, else its raw JSON text
// (without the quotes, for strings).
absl::string_view StringOrRaw(od::value value) {
  std::string_view s;
  if (value.get_string().get(s) == simdjson::SUCCESS) return ToAbsl(s);
  std::string_view raw = RawToken(value);
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                          raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') raw = raw.substr(1, raw.size() - 2);
  return ToAbsl(raw);
}

// Walks a value the key extraction does not need, so that every byte of the
// line is checked as JSON (On-Demand otherwise skips unread values by their
// brackets alone). Strings are checked by the structural pass (quotes,
// UTF-8); escapes are left as written, as Python's json.loads accepts them.
// Python's json module (which wrote these files) also reads NaN, Infinity,
// -Infinity, integers of any size and floats that overflow (1e400).
bool PythonOnlyAtom(std::string_view raw) {
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                          raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  if (raw == "NaN" || raw == "Infinity" || raw == "-Infinity") return true;
  if (raw.empty() || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))) return false;
  return raw.find_first_not_of("0123456789+-.eE") == std::string_view::npos;
}

simdjson::error_code Validate(od::value value, int depth = 0) {
  if (depth > 1024) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto err = value.type().get(type)) {
    return PythonOnlyAtom(RawToken(value)) ? simdjson::SUCCESS : err;
  }
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (auto err = value.get_object().get(obj)) return err;
      for (auto field_result : obj) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        if (auto err = Validate(field.value(), depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array arr;
      if (auto err = value.get_array().get(arr)) return err;
      for (auto element : arr) {
        od::value v;
        if (auto err = std::move(element).get(v)) return err;
        if (auto err = Validate(v, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number n;
      if (value.get_number().get(n) == simdjson::SUCCESS) return simdjson::SUCCESS;
      return PythonOnlyAtom(RawToken(value)) ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
    }
    case od::json_type::boolean: {
      bool b;
      return value.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = value.is_null().get(is_null)) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    case od::json_type::string: {
      std::string_view raw = RawToken(value);
      return raw.size() >= 2 ? simdjson::SUCCESS : simdjson::STRING_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
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
  bool scrubbed = false;    // the last Extract parsed a scrubbed copy

  absl::Status Parse(const char* buf, size_t len, EventKeys* keys, bool validate);
};

EventKeyExtractor::EventKeyExtractor() : impl_(std::make_unique<Impl>()) {}
EventKeyExtractor::~EventKeyExtractor() = default;

bool EventKeyExtractor::last_was_invalid_utf8() const { return impl_->scrubbed; }

static_assert(kExtractPadding >= simdjson::SIMDJSON_PADDING);

absl::Status EventKeyExtractor::Extract(absl::string_view line, EventKeys* keys, bool validate,
                                        size_t readable_after) {
  if (readable_after < kExtractPadding) return Extract(line, keys, validate);
  *keys = EventKeys();
  impl_->scrubbed = false;
  if (line.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return absl::InvalidArgumentError("empty line: an event must be a JSON object");
  }
  absl::Status s = impl_->Parse(line.data(), line.size(), keys, validate);
  if (s.ok() || !impl_->utf8_error) return s;
  return Extract(line, keys, validate);  // the copy is scrubbed
}

absl::Status EventKeyExtractor::Extract(absl::string_view line, EventKeys* keys, bool validate) {
  *keys = EventKeys();
  Impl& im = *impl_;
  im.scrubbed = false;
  if (line.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return absl::InvalidArgumentError("empty line: an event must be a JSON object");
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end.
  im.padded.resize(line.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(im.padded.data(), line.data(), line.size());
  absl::Status s = im.Parse(im.padded.data(), line.size(), keys, validate);
  if (s.ok() || !im.utf8_error) return s;
  // simdjson validates UTF-8 while it indexes; only then scrub and retry.
  *keys = EventKeys();
  im.padded.resize(line.size());
  ScrubInvalidUtf8(&im.padded);
  im.scrubbed = true;
  im.padded.resize(line.size() + simdjson::SIMDJSON_PADDING);
  return im.Parse(im.padded.data(), line.size(), keys, validate);
}

absl::Status EventKeyExtractor::Impl::Parse(const char* buf, size_t len, EventKeys* keys,
                                            bool validate) {
  tl_line_begin = buf;
  tl_line_end = buf + len;
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
      if (value.get_object().get(data) != simdjson::SUCCESS) {
        if (!validate) continue;
        if (auto err = Validate(value)) return fail("invalid JSON value of data", err, &doc);
        continue;
      }
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
        } else if (!validate) {
          continue;
        } else if (auto err = Validate(dfield.value())) {
          return fail("invalid JSON", err, &doc);
        }
      }
    } else if (!validate) {
      continue;
    } else if (auto err = Validate(value)) {
      return fail("invalid JSON", err, &doc);
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
