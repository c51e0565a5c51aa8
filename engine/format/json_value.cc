#include "engine/format/json_value.h"

#include <algorithm>

namespace tracelog {
namespace {

namespace od = simdjson::ondemand;

// A number as JSON writes it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool JsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// What simdjson refuses and Python's json reads: NaN, Infinity, -Infinity,
// and numbers simdjson cannot hold (integers of any size, 1e400).
bool PythonOnlyAtom(std::string_view raw) {
  raw = TrimJsonWhitespace(raw);
  return raw == "NaN" || raw == "Infinity" || raw == "-Infinity" || JsonNumber(raw);
}

}  // namespace

std::string_view ClampedRawToken(od::value& value, std::string_view line) {
  const std::string_view raw = value.raw_json_token();
  const char* end = line.data() + line.size();
  if (raw.data() < line.data() || raw.data() >= end) return std::string_view();
  return raw.substr(0, std::min<size_t>(raw.size(), end - raw.data()));
}

simdjson::error_code ValidateJsonValue(od::value value, std::string_view line, int depth) {
  if (depth > 1024) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto err = value.type().get(type)) {
    return PythonOnlyAtom(ClampedRawToken(value, line)) ? simdjson::SUCCESS : err;
  }
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (auto err = value.get_object().get(obj)) return err;
      for (auto field_result : obj) {
        od::field field;
        if (auto err = std::move(field_result).get(field)) return err;
        if (auto err = ValidateJsonValue(field.value(), line, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array arr;
      if (auto err = value.get_array().get(arr)) return err;
      for (auto element : arr) {
        od::value v;
        if (auto err = std::move(element).get(v)) return err;
        if (auto err = ValidateJsonValue(v, line, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number n;
      if (value.get_number().get(n) == simdjson::SUCCESS) return simdjson::SUCCESS;
      return PythonOnlyAtom(ClampedRawToken(value, line)) ? simdjson::SUCCESS
                                                          : simdjson::NUMBER_ERROR;
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
      // Read (not unescaped), so that the walk moves past it itself: a
      // string left unread let On-Demand end an object at a missing comma
      // without an error ({"k":{"a":"b":"c"}}} was taken).
      std::string_view raw = ClampedRawToken(value, line);
      if (raw.size() < 2) return simdjson::STRING_ERROR;
      od::raw_json_string unread;
      return value.get_raw_json_string().get(unread);
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace tracelog
