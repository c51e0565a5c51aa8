// libFuzzer target: any bytes as a Claude Code hook's stdin (what
// `tracelog hook` reads from the agent). A converted input always gives
// one JSON object in agent-strace's shape, which the log accepts.

#include <simdjson.h>

#include <string>

#include "engine/ndjson/claude_hook.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  static simdjson::dom::parser* parser = new simdjson::dom::parser();
  const absl::string_view input = fuzz::Bytes(data, size);
  HookOptions o;
  o.max_field_bytes = 64;  // small, so that cutting is exercised
  auto e = ConvertHookInput("PostToolUse", input, 1.5, "0123456789ab", o);
  if (!e.ok()) return 0;
  const std::string line = HookEventLine(*e);
  simdjson::dom::object obj;
  TRACELOG_FUZZ_CHECK(parser->parse(line.data(), line.size()).get(obj) == simdjson::SUCCESS);
  simdjson::dom::object d;
  TRACELOG_FUZZ_CHECK(obj["data"].get_object().get(d) == simdjson::SUCCESS);
  std::string_view type;
  TRACELOG_FUZZ_CHECK(obj["event_type"].get_string().get(type) == simdjson::SUCCESS);
  TRACELOG_FUZZ_CHECK(line.find('\n') == std::string::npos);
  return 0;
}
