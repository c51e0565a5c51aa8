// libFuzzer target: any bytes through the Redactor (which parses what
// agents send before anything is stored). A change always gives a JSON
// object that holds "redacted", and redacting that again changes nothing.

#include <simdjson.h>

#include <string>

#include "engine/redact/redactor.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  static const Redactor* redactor = Redactor::Create()->release();
  static simdjson::dom::parser* parser = new simdjson::dom::parser();
  const absl::string_view event = fuzz::Bytes(data, size);
  std::string out;
  auto changed = redactor->Redact(event, &out);
  if (!changed.ok() || !*changed) return 0;
  simdjson::dom::object obj;
  TRACELOG_FUZZ_CHECK(parser->parse(out.data(), out.size()).get(obj) == simdjson::SUCCESS);
  simdjson::dom::element mark;
  TRACELOG_FUZZ_CHECK(obj["redacted"].get(mark) == simdjson::SUCCESS);
  std::string again;
  auto twice = redactor->Redact(out, &again);
  TRACELOG_FUZZ_CHECK(twice.ok() && !*twice);
  return 0;
}
