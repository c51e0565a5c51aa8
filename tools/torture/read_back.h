#ifndef TRACELOG_TOOLS_TORTURE_READ_BACK_H_
#define TRACELOG_TOOLS_TORTURE_READ_BACK_H_

// Reads a log back through LogReader, as an application would: events
// (their bytes checked against their ids), damage reports and gaps.

#include <cstdint>
#include <functional>

#include "engine/log/log.h"
#include "tools/torture/oracle.h"

namespace tracelog::torture {

// Every event from `from` to the end. `each` (if set) sees every event as
// it is read (for observations while a writer appends).
ReadBack ReadLog(Log* log, uint64_t from, const std::function<void(const ReadEvent&)>& each = {});

}  // namespace tracelog::torture

#endif  // TRACELOG_TOOLS_TORTURE_READ_BACK_H_
