#ifndef TRACELOG_TOOLS_TORTURE_ORACLE_H_
#define TRACELOG_TOOLS_TORTURE_ORACLE_H_

// What the log owes: every event the tool tried to append, with what the
// engine promised about it (format-spec/README.md, "Durability contract"),
// and the checks of a read-back against those promises:
//  (a) an event acknowledged durable (Append under `always`, or acknowledged
//      before a Sync/SealAll/CommitImport/Close that succeeded, or at or
//      below durable_sequence(), or found by a writer's recovery, which
//      syncs what it keeps) is present, byte for byte, at its sequence, after
//      any crash; an event acknowledged but not durable survives a process
//      crash (contract 1) unless the page cache itself lost pages (a power
//      loss, or pages a failed sync forgot and memory pressure evicted);
//  (b) no sequence is given twice: an acknowledged sequence is above every
//      sequence acknowledged or seen by a reader before the log was opened,
//      and no two events are ever seen at one sequence;
//  (c) nothing is read that was never appended (the bytes are a function of
//      the id in the event), no event moves, no event of an import that was
//      not committed is ever visible, an import is all or nothing, and no
//      damage is reported (the faults injected lose unsynced bytes, never
//      damage synced ones; every hole in the sequences is a gap file's);
//  (d) events retention removed (a prefix of the log, below the first raw
//      segment when it ran) are not counted as lost.
// Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/string_view.h"

namespace tracelog::torture {

enum class EvState : uint8_t {
  kPending,        // attempted; the outcome (and sequence) unknown
  kAssigned,       // has a sequence (seen by a reader, or a failed batch's prefix), no promise
  kAcked,          // Append returned it: survives a process crash
  kDurable,        // survives anything
  kImportPending,  // appended by an import not committed yet
  kRolledBack,     // of an import that did not commit: must never be visible
  kGone,           // was not found after a crash that was allowed to lose it
};
const char* StateName(EvState s);

// One event as read back (bytes checked by the reader against the id).
struct ReadEvent {
  uint64_t sequence = 0;
  std::string event_id;  // as the keys say
  bool bytes_match = false;
  size_t size = 0;
};

struct ReadGap {
  uint64_t first = 0, end = 0;
  bool lost = false;
};

struct ReadBack {
  std::vector<ReadEvent> events;  // in the order the reader returned them
  std::vector<std::string> damage;
  std::vector<ReadGap> gaps;
  std::string status;  // the reader's status, empty when OK
};

struct VerifyCounts {
  uint64_t present = 0;
  uint64_t durable_checked = 0;   // durable events found
  uint64_t acked_checked = 0;     // acknowledged (not durable) events found
  uint64_t retained = 0;          // counted as removed by retention
  uint64_t lost_allowed = 0;      // not durable, gone after a loss of pages
  uint64_t rolled_back = 0;       // import events that stayed invisible
};

class Oracle {
 public:
  // Violations are reported here (message, already with the context).
  explicit Oracle(std::function<void(const std::string&)> violation)
      : violation_(std::move(violation)) {}

  // Ids -------------------------------------------------------------------
  // Registers an attempt (before the Append). `import_no`: 0, or the import.
  void Attempt(uint64_t id, uint32_t import_no);
  // Whether an id unknown to the oracle may be adopted when read (kill
  // mode: an append of the killed child that never reported back).
  void SetAdoptable(std::function<bool(uint64_t id)> f) { adoptable_ = std::move(f); }

  // What the engine said -------------------------------------------------
  // Append returned `seq` for `id`; `durable` under `always`.
  void Acked(uint64_t id, uint64_t seq, bool durable);
  // `id` has sequence `seq` but no promise (the appended prefix of a failed batch).
  void Assigned(uint64_t id, uint64_t seq);
  // The number of acknowledgements so far; a Sync() etc. that starts after
  // this many and succeeds makes them durable (MarkDurableBefore).
  uint64_t AckCount();
  void MarkDurableBefore(uint64_t ack_count);
  // durable_sequence(): every event at or below it was synced.
  void MarkDurableThrough(uint64_t seq);
  // Imports.
  void BeginImport(uint32_t import_no, uint64_t first_sequence);
  // CommitImport returned: ok, or not with `committed` (the marker is gone,
  // the directory sync failed: in the log, but a power loss may roll it all back).
  void EndImport(uint32_t import_no, bool ok, bool committed);
  // The import was abandoned or its process died before the commit point.
  void RollBackImport(uint32_t import_no);
  bool import_open() const { return open_import_ != 0; }
  // Retention ran (or was interrupted): sequences below `bound` may be gone
  // (as a prefix of the log).
  void NoteRetain(uint64_t bound);

  // Checks -----------------------------------------------------------------
  // An event seen by a reader while the log is open (no promise made).
  // `own_writer`: a reader of the writing Log itself, which sees the events
  // of the import it is appending (the importer reads them); any other
  // reader (a read-only open: another process) must not.
  void Observe(const ReadEvent& ev, const std::string& context, bool own_writer = false);
  // The log as a writer's recovery left it (`after_writer_open`: events
  // found are durable from now on, as recovery syncs what it keeps).
  // `pages_lost`: since the previous verification, the page cache lost pages
  // (power loss, or evicted pages a failed sync had forgotten).
  VerifyCounts Verify(const ReadBack& rb, bool pages_lost, bool after_writer_open,
                      const std::string& context);
  // The sequence every append from now on must exceed: the highest
  // sequence ever acknowledged, assigned or seen.
  uint64_t max_seen();
  // Appends from now on must get sequences above max_seen() (a new Log).
  void StartSession();

  size_t tracked();  // events tracked (memory)

 private:
  struct Entry {
    uint64_t seq = 0;  // 0: unknown
    uint64_t ack_no = 0;
    uint32_t import_no = 0;
    EvState state = EvState::kPending;
  };
  struct Import {
    uint64_t first = 0;
    bool open = false;
    bool committed_with_error = false;
    std::vector<uint64_t> ids;
  };
  // REQUIRES: mu_.
  void ViolationLocked(const std::string& msg) { violation_(msg); }
  void BindLocked(uint64_t id, Entry* e, uint64_t seq, const std::string& what);

  std::function<void(const std::string&)> violation_;
  std::function<bool(uint64_t)> adoptable_;
  std::mutex mu_;
  std::unordered_map<uint64_t, Entry> by_id_;
  std::map<uint64_t, uint64_t> by_seq_;  // sequence -> id
  std::vector<uint64_t> nondurable_;     // ids acked (or assigned) but not durable
  std::map<uint32_t, Import> imports_;
  uint32_t open_import_ = 0;
  uint64_t acks_ = 0;
  uint64_t max_seen_ = 0;
  uint64_t session_floor_ = 0;
  uint64_t retain_bound_ = 0;
};

}  // namespace tracelog::torture

#endif  // TRACELOG_TOOLS_TORTURE_ORACLE_H_
