#include "engine/format/json_value.h"

#include <algorithm>

namespace tracelog {
namespace {

namespace od = simdjson::ondemand;

bool PythonOnlyAtom(std::string_view raw) {
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                          raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  if (raw == "NaN" || raw == "Infinity" || raw == "-Infinity") return true;
  if (raw.empty() || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))) return false;
  return raw.find_first_not_of("0123456789+-.eE") == std::string_view::npos;
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
