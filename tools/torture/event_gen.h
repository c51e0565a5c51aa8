#ifndef TRACELOG_TOOLS_TORTURE_EVENT_GEN_H_
#define TRACELOG_TOOLS_TORTURE_EVENT_GEN_H_

// The torture tool's events: every byte of an event is a function of its
// 64-bit id, and the id is in the event (`event_id` "x<16 hex digits>"), so
// an event read back is checked byte for byte without keeping its bytes,
// and one that was never appended (garbage) is recognised.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tracelog::torture {

// splitmix64: the tool's hash and seed mixer.
uint64_t Mix(uint64_t x);

// Ids of the kill mode carry their iteration, thread and index, so that
// the parent recognises the events of a child it killed mid-append.
uint64_t MakeId(uint64_t iteration, uint64_t thread, uint64_t k);
uint64_t IdIteration(uint64_t id);

// The event of `id`: a JSON object of about Size(id) bytes. Sizes are mixed:
// about 55 % under 300 bytes, 30 % up to 4 KiB, 13.5 % up to 64 KiB and
// 1.5 % up to 512 KiB.
std::string MakeEventFor(uint64_t id);
size_t PadSize(uint64_t id);

// The id in an event_id as MakeEventFor writes it; nullopt for anything else.
std::optional<uint64_t> ParseEventId(absl::string_view event_id);

}  // namespace tracelog::torture

#endif  // TRACELOG_TOOLS_TORTURE_EVENT_GEN_H_
