#include "tools/torture/event_gen.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace tracelog::torture {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t MakeId(uint64_t iteration, uint64_t thread, uint64_t k) {
  return (iteration << 40) | ((thread & 0xff) << 32) | (k & 0xffffffffull);
}

uint64_t IdIteration(uint64_t id) { return id >> 40; }

size_t PadSize(uint64_t id) {
  const uint64_t h = Mix(id ^ 0x5eedull);
  const uint64_t r = h % 1000;
  const uint64_t v = h >> 16;
  if (r < 550) return v % 200;
  if (r < 850) return 200 + v % 3900;
  if (r < 985) return 4096 + v % (60 << 10);
  return (64 << 10) + v % (448 << 10);
}

std::string MakeEventFor(uint64_t id) {
  static constexpr const char* kTypes[] = {"tool_call", "llm_request", "llm_response",
                                           "decision", "error", "tool_result"};
  static constexpr const char* kTools[] = {"Bash", "Read", "Edit", "Grep"};
  const uint64_t h = Mix(id);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(id));
  const size_t pad = PadSize(id);
  std::string body(pad, 'a');
  uint64_t s = h;
  for (size_t i = 0; i < pad; ++i) {
    if (i % 8 == 0) s = Mix(s);
    body[i] = "abcdefghijklmnopqrstuvwxyz0123456789 -_"[(s >> (8 * (i % 8))) % 39];
  }
  return absl::StrCat(R"({"event_type":")", kTypes[h % 6], R"(","timestamp":)",
                      1795440000 + (id & 0xffffff), ".", h % 1000, R"(,"event_id":"x)", hex,
                      R"(","session_id":"s)", (h >> 8) % 13, R"(","agent":"torture","data":{"tool_name":")",
                      kTools[(h >> 20) % 4], R"(","arguments":{"command":")", body, R"("}}})");
}

std::optional<uint64_t> ParseEventId(absl::string_view event_id) {
  if (event_id.size() != 17 || event_id[0] != 'x') return std::nullopt;
  uint64_t v = 0;
  for (char c : event_id.substr(1)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = v << 4 | d;
  }
  return v;
}

}  // namespace tracelog::torture
