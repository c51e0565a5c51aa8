// libFuzzer target: the query time parser (--since/--until: RFC 3339,
// dates, Unix seconds, relative durations such as 2h). Any text is a value
// or an InvalidArgumentError; a value is finite.

#include <cmath>

#include "engine/query/query_time.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  auto t = ParseQueryTime(fuzz::Bytes(data, size), /*now=*/1795440000.0);
  if (t.ok()) TRACELOG_FUZZ_CHECK(std::isfinite(*t));
  return 0;
}
