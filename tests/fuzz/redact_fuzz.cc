// libFuzzer target: any bytes through the Redactor (which parses what
// agents send before anything is stored). What it refuses, writers
// (EventKeyExtractor) refuse too; a change always gives a JSON object that
// holds "redacted", which writers take if they take the event, and
// redacting that again changes nothing; the
// search near the gates' matches gives the JSON the whole-string search
// gives.

#include <simdjson.h>

#include <string>

#include "engine/format/event_keys.h"
#include "engine/redact/redactor.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  static const Redactor* redactor = Redactor::Create()->release();
  static const Redactor* whole = [] {
    RedactOptions o;
    o.whole_strings_for_testing = true;
    return Redactor::Create(o)->release();
  }();
  static simdjson::dom::parser* parser = new simdjson::dom::parser();
  static EventKeyExtractor* extractor = new EventKeyExtractor();
  const absl::string_view event = fuzz::Bytes(data, size);
  std::string out, reference;
  auto changed = redactor->Redact(event, &out);
  auto reference_changed = whole->Redact(event, &reference);
  TRACELOG_FUZZ_CHECK(changed.ok() == reference_changed.ok());
  if (!changed.ok()) {  // what the redactor cannot read, writers refuse too
    EventKeys keys;
    TRACELOG_FUZZ_CHECK(!extractor->Extract(event, &keys).ok());
    return 0;
  }
  if (!*changed) {
    TRACELOG_FUZZ_CHECK(!reference_changed.ok() || !*reference_changed);
    return 0;
  }
  // The same JSON: the search near the gates rewrites only the parts of a
  // string that changed (its other escapes kept as written), the
  // reference the whole string.
  TRACELOG_FUZZ_CHECK(*reference_changed);
  simdjson::dom::element standard;  // the comparison needs JSON that DOM reads (no NaN)
  if (out != reference && parser->parse(event.data(), event.size()).get(standard) == simdjson::SUCCESS) {
    simdjson::dom::element a, b;
    TRACELOG_FUZZ_CHECK(parser->parse(out.data(), out.size()).get(a) == simdjson::SUCCESS);
    const std::string first = simdjson::minify(a);
    TRACELOG_FUZZ_CHECK(parser->parse(reference.data(), reference.size()).get(b) ==
                        simdjson::SUCCESS);
    TRACELOG_FUZZ_CHECK(first == simdjson::minify(b));
  }
  // Writers judge the redacted event as they judge the event (a key that
  // does not decode, which they refuse at the top level, the redactor
  // passes over).
  EventKeys keys;
  const bool taken = extractor->Extract(event, &keys).ok();
  TRACELOG_FUZZ_CHECK(extractor->Extract(out, &keys).ok() == taken);
  // Standard JSON in (no NaN and the like) gives standard JSON out.
  simdjson::dom::element in;
  if (parser->parse(event.data(), event.size()).get(in) == simdjson::SUCCESS) {
    simdjson::dom::object obj;
    TRACELOG_FUZZ_CHECK(parser->parse(out.data(), out.size()).get(obj) == simdjson::SUCCESS);
    simdjson::dom::element mark;
    TRACELOG_FUZZ_CHECK(obj["redacted"].get(mark) == simdjson::SUCCESS);
  }
  std::string again;
  auto twice = redactor->Redact(out, &again);
  TRACELOG_FUZZ_CHECK(twice.ok() && !*twice);
  return 0;
}
