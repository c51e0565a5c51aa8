#include "engine/format/event_keys.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/json_value.h"
#include "engine/format/utf8.h"

namespace tracelog {
namespace {

namespace od = simdjson::ondemand;

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The line Parse() is reading (raw tokens are clamped to it:
// ClampedRawToken).
thread_local std::string_view tl_line;

std::string_view RawToken(od::value& value) { return ClampedRawToken(value, tl_line); }

// A string key's value: unescaped when possible, else its raw JSON text
// (without the quotes, for strings). With `validate`, a value that is not
// a string is then read whole (Validate): one left unread would be skipped
// by its brackets alone.
simdjson::error_code Validate(od::value value);
simdjson::error_code StringOrRaw(od::value value, bool validate, absl::string_view* out) {
  std::string_view s;
  if (value.get_string().get(s) == simdjson::SUCCESS) {
    *out = ToAbsl(s);
    return simdjson::SUCCESS;
  }
  std::string_view raw = RawToken(value);
  raw = TrimJsonWhitespace(raw);
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') raw = raw.substr(1, raw.size() - 2);
  *out = ToAbsl(raw);
  return validate ? Validate(value) : simdjson::SUCCESS;
}

// A value the key extraction does not need, walked so that every byte of
// the line is checked (json_value.h).
simdjson::error_code Validate(od::value value) { return ValidateJsonValue(value, tl_line); }

// Whether an `error` value counts as true, as Python's bool() reads it,
// from its raw text (so that the value can still be read whole after):
// false, null, 0 and "" are false; objects and arrays are true.
bool Truthy(std::string_view raw) {
  raw = TrimJsonWhitespace(raw);
  if (raw.empty() || raw == "false" || raw == "null" || raw == "\"\"") return false;
  if (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
    double d = 0;
    return !absl::SimpleAtod(ToAbsl(raw), &d) || d != 0;
  }
  return true;
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
  tl_line = std::string_view(buf, len);
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
    if (key == "session_id" || key == "event_type" || key == "event_id" || key == "parent_id") {
      absl::string_view* out = key == "session_id"   ? &keys->session_id
                               : key == "event_type" ? &keys->event_type
                               : key == "event_id"   ? &keys->event_id
                                                     : &keys->parent_id;
      if (auto err = StringOrRaw(value, validate, out)) return fail("invalid JSON", err, &doc);
    } else if (key == "timestamp") {
      double ts;
      if (value.get_double().get(ts) == simdjson::SUCCESS) {
        keys->timestamp = ts;
        keys->has_timestamp = true;
      } else {
        keys->timestamp = 0;
        keys->has_timestamp = false;
        if (!validate) continue;
        if (auto err = Validate(value)) return fail("invalid JSON", err, &doc);
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
          if (auto err = StringOrRaw(dfield.value(), validate, &keys->tool_name)) {
            return fail("invalid JSON", err, &doc);
          }
        } else if (dkey == "error" || dkey == "is_error") {
          od::value v = dfield.value();
          if (Truthy(RawToken(v))) keys->error = true;
          if (!validate) continue;
          if (auto err = Validate(v)) return fail("invalid JSON", err, &doc);
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
