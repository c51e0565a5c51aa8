#include "engine/redact/json_string.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace tracelog::redact {
namespace {

// Four hex digits at raw[at], into *cp.
bool Hex4(absl::string_view raw, size_t at, uint32_t* cp) {
  if (at + 4 > raw.size()) return false;
  *cp = 0;
  for (size_t k = at; k < at + 4; ++k) {
    const char c = raw[k];
    const int v = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (v < 0) return false;
    *cp = *cp * 16 + static_cast<uint32_t>(v);
  }
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

void AppendJsonEscaped(absl::string_view s, std::string* out) {
  out->reserve(out->size() + s.size() + s.size() / 16 + 2);
  // Runs that need no escape are copied whole.
  size_t run = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    // Eight bytes at a time while none needs an escape (control, '"', '\\').
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    while (k + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + k, 8);
      const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
      const uint64_t special = ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
                               ((backslash - kOnes) & ~backslash);
      if ((special & kHighs) != 0) break;
      k += 8;
    }
    if (k >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[k]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, k - run);
    run = k + 1;
    const char ch = s[k];
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out->append(buf);
    }
  }
  out->append(s.data() + run, s.size() - run);
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  AppendJsonEscaped(s, out);
  out->push_back('"');
}

size_t DecodeEscape(absl::string_view raw, size_t at, std::string* out) {
  if (at + 1 >= raw.size()) {
    out->push_back('?');
    return raw.size() - at;
  }
  const char e = raw[at + 1];
  switch (e) {
    case '"': case '\\': case '/': out->push_back(e); return 2;
    case 'b': out->push_back('\b'); return 2;
    case 'f': out->push_back('\f'); return 2;
    case 'n': out->push_back('\n'); return 2;
    case 'r': out->push_back('\r'); return 2;
    case 't': out->push_back('\t'); return 2;
    case 'u': break;
    default: {
      // A letter JSON lacks: with all of it if it is a character of
      // several bytes (no mark may cut one).
      size_t len = 2;
      if (static_cast<unsigned char>(e) >= 0xC0) {
        while (len < 5 && at + len < raw.size() &&
               (static_cast<unsigned char>(raw[at + len]) & 0xC0) == 0x80) {
          ++len;
        }
      }
      out->push_back('?');
      return len;
    }
  }
  uint32_t cp = 0;
  if (!Hex4(raw, at + 2, &cp)) {
    out->push_back('?');
    return 2;
  }
  if (cp >= 0xD800 && cp < 0xDC00) {
    uint32_t low = 0;
    if (at + 7 < raw.size() && raw[at + 6] == '\\' && raw[at + 7] == 'u' &&
        Hex4(raw, at + 8, &low) && low >= 0xDC00 && low < 0xE000) {
      AppendUtf8(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), out);
      return 12;
    }
    out->push_back('?');
    return 6;
  }
  if (cp >= 0xDC00 && cp < 0xE000) {
    out->push_back('?');
    return 6;
  }
  AppendUtf8(cp, out);
  return 6;
}

std::string LenientlyDecoded(absl::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t at = 0;
  while (at < raw.size()) {
    const size_t escape = std::min(raw.find('\\', at), raw.size());
    out.append(raw.data() + at, escape - at);
    if (escape == raw.size()) break;
    at = escape + DecodeEscape(raw, escape, &out);
  }
  return out;
}

bool RawOffsets::Map(size_t decoded, size_t* out) {
  while (true) {
    size_t escape = raw_.find('\\', raw_at_);
    if (escape == absl::string_view::npos) escape = raw_.size();
    const size_t run = escape - raw_at_;
    if (decoded <= decoded_at_ + run) {
      *out = raw_at_ + (decoded - decoded_at_);
      return decoded >= decoded_at_;
    }
    if (escape >= raw_.size()) return false;
    decoded_at_ += run;
    raw_at_ = escape;
    scratch_.clear();
    const size_t written = DecodeEscape(raw_, escape, &scratch_);
    if (decoded < decoded_at_ + scratch_.size()) return false;  // inside it
    decoded_at_ += scratch_.size();
    raw_at_ += written;
  }
}

}  // namespace tracelog::redact
