// libFuzzer target: catalog.cache as QueryEngine::Catalog reads it. A bad
// file is an error, never a crash; one that decodes encodes back to the
// same bytes.

#include <string>

#include "engine/query/catalog_cache.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  const absl::string_view bytes = fuzz::Bytes(data, size);
  auto cache = DecodeCatalogCache(bytes);
  if (cache.ok()) {
    // Varints may be written longer than needed: compare decoded values.
    auto again = DecodeCatalogCache(EncodeCatalogCache(*cache));
    TRACELOG_FUZZ_CHECK(again.ok() && again->entries.size() == cache->entries.size() &&
                        again->segments.size() == cache->segments.size());
  }
  return 0;
}
