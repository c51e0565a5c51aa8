// libFuzzer target: the log's config file (CONFIG) as a writer loads
// it, and fsync policy strings as flags and the config give them. A bad
// file is an error naming the line, never a crash; a policy that parses
// prints back to a string that parses to the same policy.

#include <string>

#include "engine/log/log_config.h"
#include "engine/log/options.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  const absl::string_view bytes = fuzz::Bytes(data, size);
  auto policy = SyncPolicy::Parse(bytes);
  if (policy.ok()) {
    auto again = SyncPolicy::Parse(policy->ToString());
    TRACELOG_FUZZ_CHECK(again.ok() && again->ToString() == policy->ToString());
  }
  auto fs = fuzz::LogDirWith(kConfigFileName, bytes);
  LoadLogConfig(fs.get(), "/log").IgnoreError();
  return 0;
}
