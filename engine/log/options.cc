#include "engine/log/options.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tracelog {

absl::StatusOr<SyncPolicy> SyncPolicy::Parse(absl::string_view text) {
  const std::string t = absl::AsciiStrToLower(text);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad fsync policy '", text, "': ", why,
        " (expected always, never, interval:<ms> or bytes:<n>)"));
  };
  if (t == "always") return SyncPolicy{Kind::kAlways, 0};
  if (t == "never") return SyncPolicy{Kind::kNever, 0};
  absl::string_view v;
  Kind kind;
  if (absl::StartsWith(t, "interval:")) {
    kind = Kind::kInterval;
    v = absl::string_view(t).substr(9);
    if (absl::EndsWith(v, "ms")) v.remove_suffix(2);
  } else if (absl::StartsWith(t, "bytes:")) {
    kind = Kind::kBytes;
    v = absl::string_view(t).substr(6);
  } else {
    return bad("unknown policy");
  }
  std::optional<uint64_t> n;
  if (kind == Kind::kBytes) {
    n = ParseByteSize(v);
  } else if (uint64_t ms; absl::SimpleAtoi(v, &ms)) {
    n = ms;
  }
  if (!n || *n == 0) return bad("the value must be a positive integer");
  return SyncPolicy{kind, *n};
}

std::optional<uint64_t> ParseByteSize(absl::string_view text) {
  uint64_t mult = 1;
  if (!text.empty()) {
    switch (absl::ascii_tolower(static_cast<unsigned char>(text.back()))) {
      case 'k': mult = 1ull << 10; break;
      case 'm': mult = 1ull << 20; break;
      case 'g': mult = 1ull << 30; break;
      case 't': mult = 1ull << 40; break;
      default: break;
    }
    if (mult != 1) text.remove_suffix(1);
  }
  uint64_t n;
  if (!absl::SimpleAtoi(text, &n) || n > UINT64_MAX / mult) return std::nullopt;
  return n * mult;
}

std::string SyncPolicy::ToString() const {
  switch (kind) {
    case Kind::kAlways: return "always";
    case Kind::kNever: return "never";
    case Kind::kInterval: return absl::StrCat("interval:", value);
    case Kind::kBytes: return absl::StrCat("bytes:", value);
  }
  return "?";
}

}  // namespace tracelog
