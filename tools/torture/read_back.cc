#include "tools/torture/read_back.h"

#include "engine/format/gap_format.h"
#include "tools/torture/event_gen.h"

namespace tracelog::torture {

ReadBack ReadLog(Log* log, uint64_t from, const std::function<void(const ReadEvent&)>& each) {
  ReadBack rb;
  ReaderOptions o;
  o.from_sequence = from;
  o.reporter = [&rb](const Corruption& c) { rb.damage.push_back(c.ToString()); };
  o.gap_reporter = [&rb](const GapRecord& g) {
    rb.gaps.push_back(ReadGap{g.first, g.end, g.reason == GapReason::kLost});
  };
  std::unique_ptr<LogReader> reader = log->NewReader(o);
  LogEvent ev;
  while (reader->Next(&ev)) {
    ReadEvent r;
    r.sequence = ev.sequence;
    r.event_id = std::string(ev.keys.event_id);
    r.size = ev.event.size();
    if (auto id = ParseEventId(r.event_id)) r.bytes_match = ev.event == MakeEventFor(*id);
    if (each) each(r);
    rb.events.push_back(std::move(r));
  }
  if (!reader->status().ok()) rb.status = reader->status().ToString();
  return rb;
}

}  // namespace tracelog::torture
