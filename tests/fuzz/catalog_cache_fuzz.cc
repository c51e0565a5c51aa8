// libFuzzer target: catalog.cache as QueryEngine::Catalog reads it. A bad
// file is an error, never a crash; one that decodes decodes again after
// encoding. Inputs after the '!' flag get their trailing checksum fixed, so
// the entries behind it are fuzzed too.

#include <string>

#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/query/catalog_cache.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  absl::string_view bytes = fuzz::Bytes(data, size);
  std::string fixed;
  if (fuzz::TakeFixFlag(&bytes) && bytes.size() >= 8) {
    fixed = std::string(bytes);
    EncodeFixed64(fixed.data() + fixed.size() - 8, Checksum64(fixed.data(), fixed.size() - 8));
    bytes = fixed;
  }
  auto cache = DecodeCatalogCache(bytes);
  if (cache.ok()) {
    // Varints may be written longer than needed: compare decoded values.
    auto again = DecodeCatalogCache(EncodeCatalogCache(*cache));
    TRACELOG_FUZZ_CHECK(again.ok() && again->entries.size() == cache->entries.size() &&
                        again->segments.size() == cache->segments.size());
  }
  return 0;
}
