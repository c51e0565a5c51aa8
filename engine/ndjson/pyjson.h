#ifndef TRACELOG_ENGINE_NDJSON_PYJSON_H_
#define TRACELOG_ENGINE_NDJSON_PYJSON_H_

// Writing JSON text exactly as Python's json.dumps does with its defaults
// (ensure_ascii=True, allow_nan=True), because agent-strace files are written
// that way and tracelog reproduces them byte for byte
// (../shared/agent-strace-format.md, section 5).

#include <string>

#include "absl/strings/string_view.h"

namespace tracelog {

// Appends repr(float): shortest round-trip digits, ".0" on integral values,
// scientific notation when the decimal exponent is < -4 or >= 16 ("1e-05",
// "1e+16"), and NaN / Infinity / -Infinity.
void AppendPyFloat(std::string* out, double value);

// Appends a JSON string literal (with quotes) for UTF-8 `text`: short escapes
// for " \ \n \r \t \b \f, \u00XX (lowercase hex) for other control characters
// and 0x7f, \uXXXX for every non-ASCII code point (astral ones as a surrogate
// pair). Bytes that are not valid UTF-8 are written as \ufffd.
void AppendPyJsonString(std::string* out, absl::string_view text);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_PYJSON_H_
