#include "engine/query/query_time.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace tracelog {

absl::StatusOr<double> ParseQueryTime(absl::string_view text, double now) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  double v;
  if (absl::SimpleAtod(t, &v) && std::isfinite(v)) return v;  // epoch seconds
  if (t.size() >= 2) {
    const char unit = t.back();
    const double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600
                       : unit == 'd' ? 86400 : unit == 'w' ? 7 * 86400 : 0;
    if (scale > 0 && absl::SimpleAtod(t.substr(0, t.size() - 1), &v) && std::isfinite(v) &&
        v >= 0 && absl::ascii_isdigit(static_cast<unsigned char>(t[0])) &&
        std::isfinite(now - v * scale)) {
      return now - v * scale;  // an age: that long before now
    }
  }
  absl::Time time;
  std::string err;
  // absl::ParseTime also takes "infinite-future" and "infinite-past"
  // (found by fuzzing): not a time a query bound can be.
  if ((absl::ParseTime(absl::RFC3339_full, std::string(t), &time, &err) ||
       absl::ParseTime("%Y-%m-%d", std::string(t), &time, &err)) &&
      time != absl::InfiniteFuture() && time != absl::InfinitePast()) {
    return absl::ToDoubleSeconds(time - absl::UnixEpoch());
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bad time '", text,
      "': expected epoch seconds, RFC 3339 (2026-11-23T02:00:00Z) or an age (15m, 24h, 7d)"));
}

}  // namespace tracelog
