#include "tools/torture/oracle.h"

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "tools/torture/event_gen.h"

namespace tracelog::torture {
namespace {

std::string Hex(uint64_t id) {
  char b[32];
  std::snprintf(b, sizeof(b), "x%016llx", static_cast<unsigned long long>(id));
  return b;
}

int Rank(EvState s) {
  switch (s) {
    case EvState::kPending: return 0;
    case EvState::kAssigned: return 1;
    case EvState::kAcked: return 2;
    case EvState::kDurable: return 3;
    default: return -1;
  }
}

}  // namespace

const char* StateName(EvState s) {
  switch (s) {
    case EvState::kPending: return "attempted (outcome unknown)";
    case EvState::kAssigned: return "assigned a sequence, no promise";
    case EvState::kAcked: return "acknowledged (not durable)";
    case EvState::kDurable: return "acknowledged durable";
    case EvState::kImportPending: return "in an uncommitted import";
    case EvState::kRolledBack: return "in a rolled-back import";
    case EvState::kGone: return "lost by an allowed crash";
  }
  return "?";
}

void Oracle::Attempt(uint64_t id, uint32_t import_no) {
  std::lock_guard<std::mutex> l(mu_);
  Entry& e = by_id_[id];
  e.import_no = import_no;
  e.state = import_no != 0 ? EvState::kImportPending : EvState::kPending;
  if (import_no != 0) imports_[import_no].ids.push_back(id);
}

void Oracle::BindLocked(uint64_t id, Entry* e, uint64_t seq, const std::string& what) {
  if (e->seq != 0 && e->seq != seq) {
    ViolationLocked(absl::StrCat("event ", Hex(id), " ", what, " at sequence ", seq,
                                 ", but it was at sequence ", e->seq, " before (",
                                 StateName(e->state), ")"));
    return;
  }
  auto [it, inserted] = by_seq_.emplace(seq, id);
  if (!inserted && it->second != id) {
    auto other = by_id_.find(it->second);
    ViolationLocked(absl::StrCat(
        "sequence ", seq, " given to two events: ", Hex(it->second), " (",
        other != by_id_.end() ? StateName(other->second.state) : "dropped",
        ") before, now ", Hex(id), " (", what, ")"));
    return;
  }
  e->seq = seq;
  max_seen_ = std::max(max_seen_, seq);
}

void Oracle::Acked(uint64_t id, uint64_t seq, bool durable) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    ViolationLocked(absl::StrCat("tool bug: acknowledgement of unknown id ", Hex(id)));
    return;
  }
  Entry& e = it->second;
  if (seq <= session_floor_) {
    ViolationLocked(absl::StrCat("sequence reused: Append acknowledged ", Hex(id), " at sequence ",
                                 seq, ", but sequences up to ", session_floor_,
                                 " were acknowledged or seen before this open"));
  }
  BindLocked(id, &e, seq, "acknowledged");
  e.ack_no = ++acks_;
  if (e.import_no != 0 && e.state == EvState::kImportPending) return;
  if (e.state == EvState::kRolledBack || e.state == EvState::kGone) {
    ViolationLocked(absl::StrCat("tool bug: acknowledgement of ", Hex(id), " in state ",
                                 StateName(e.state)));
    return;
  }
  const EvState want = durable ? EvState::kDurable : EvState::kAcked;
  if (Rank(want) > Rank(e.state)) e.state = want;
  if (e.state != EvState::kDurable) nondurable_.push_back(id);
}

void Oracle::Assigned(uint64_t id, uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  Entry& e = it->second;
  if (seq <= session_floor_) {
    ViolationLocked(absl::StrCat("sequence reused: a failed batch appended ", Hex(id),
                                 " at sequence ", seq, ", but sequences up to ", session_floor_,
                                 " were acknowledged or seen before this open"));
  }
  BindLocked(id, &e, seq, "appended (failed batch prefix)");
  if (e.state == EvState::kPending) {
    e.state = EvState::kAssigned;
    nondurable_.push_back(id);
  }
}

uint64_t Oracle::AckCount() {
  std::lock_guard<std::mutex> l(mu_);
  return acks_;
}

void Oracle::MarkDurableBefore(uint64_t ack_count) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<uint64_t> keep;
  for (uint64_t id : nondurable_) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    Entry& e = it->second;
    if (e.state != EvState::kAcked && e.state != EvState::kAssigned) continue;
    if (e.ack_no != 0 && e.ack_no <= ack_count) {
      e.state = EvState::kDurable;
    } else {
      keep.push_back(id);
    }
  }
  nondurable_.swap(keep);
}

void Oracle::MarkDurableThrough(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<uint64_t> keep;
  for (uint64_t id : nondurable_) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    Entry& e = it->second;
    if (e.state != EvState::kAcked && e.state != EvState::kAssigned) continue;
    if (e.seq != 0 && e.seq <= seq) {
      e.state = EvState::kDurable;
    } else {
      keep.push_back(id);
    }
  }
  nondurable_.swap(keep);
}

void Oracle::BeginImport(uint32_t import_no, uint64_t first_sequence) {
  std::lock_guard<std::mutex> l(mu_);
  if (first_sequence <= max_seen_) {
    ViolationLocked(absl::StrCat("sequence reused: BeginImport returned first sequence ",
                                 first_sequence, ", but sequences up to ", max_seen_,
                                 " were acknowledged or seen"));
  }
  Import& imp = imports_[import_no];
  imp.first = first_sequence;
  imp.open = true;
  open_import_ = import_no;
}

void Oracle::EndImport(uint32_t import_no, bool ok, bool committed) {
  if (!ok && !committed) {
    RollBackImport(import_no);
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  open_import_ = 0;
  auto it = imports_.find(import_no);
  if (it == imports_.end()) return;
  for (uint64_t id : it->second.ids) {
    auto e = by_id_.find(id);
    if (e == by_id_.end() || e->second.state != EvState::kImportPending) continue;
    if (e->second.seq == 0) {
      e->second.state = EvState::kPending;  // its Append failed
    } else if (ok) {
      e->second.state = EvState::kDurable;
    } else {
      e->second.state = EvState::kAcked;
      nondurable_.push_back(id);
    }
  }
  if (ok) {
    imports_.erase(it);
  } else {
    it->second.open = false;
    it->second.committed_with_error = true;
  }
}

void Oracle::RollBackImport(uint32_t import_no) {
  std::lock_guard<std::mutex> l(mu_);
  if (open_import_ == import_no) open_import_ = 0;
  auto it = imports_.find(import_no);
  if (it == imports_.end()) return;
  for (uint64_t id : it->second.ids) {
    auto e = by_id_.find(id);
    if (e != by_id_.end()) e->second.state = EvState::kRolledBack;
  }
  imports_.erase(it);
}

void Oracle::NoteRetain(uint64_t bound) {
  std::lock_guard<std::mutex> l(mu_);
  retain_bound_ = std::max(retain_bound_, bound);
}

void Oracle::Observe(const ReadEvent& ev, const std::string& context, bool own_writer) {
  std::lock_guard<std::mutex> l(mu_);
  auto id = ParseEventId(ev.event_id);
  if (!id) {
    ViolationLocked(absl::StrCat(context, ": a reader returned sequence ", ev.sequence,
                                 " with event_id \"", ev.event_id,
                                 "\", which the tool never appended (garbage)"));
    return;
  }
  if (!ev.bytes_match) {
    ViolationLocked(absl::StrCat(context, ": a reader returned sequence ", ev.sequence, " (",
                                 Hex(*id), ") with bytes that differ from the event appended"));
    return;
  }
  auto it = by_id_.find(*id);
  if (it == by_id_.end()) {
    if (adoptable_ && adoptable_(*id)) {
      it = by_id_.emplace(*id, Entry{}).first;
    } else {
      ViolationLocked(absl::StrCat(context, ": a reader returned sequence ", ev.sequence, " (",
                                   Hex(*id), "), an event never appended or found gone before"));
      return;
    }
  }
  Entry& e = it->second;
  if (e.state == EvState::kRolledBack || e.state == EvState::kGone ||
      (e.state == EvState::kImportPending && (e.import_no != open_import_ || !own_writer))) {
    ViolationLocked(absl::StrCat(context, ": a reader sees sequence ", ev.sequence, " (",
                                 Hex(*id), "), an event ", StateName(e.state)));
    return;
  }
  BindLocked(*id, &e, ev.sequence, absl::StrCat("seen by a reader (", context, ")"));
  if (e.state == EvState::kPending) {
    e.state = EvState::kAssigned;
    nondurable_.push_back(*id);
  }
}

VerifyCounts Oracle::Verify(const ReadBack& rb, bool pages_lost, bool after_writer_open,
                            const std::string& context) {
  std::lock_guard<std::mutex> l(mu_);
  VerifyCounts counts;
  if (!rb.status.empty()) {
    ViolationLocked(absl::StrCat(context, ": the reader failed: ", rb.status));
  }
  for (const std::string& d : rb.damage) {
    ViolationLocked(absl::StrCat(context, ": damage reported, but no fault injected damages "
                                 "synced bytes: ", d));
  }
  const uint64_t first_present =
      rb.events.empty() ? UINT64_MAX : rb.events.front().sequence;
  std::vector<ReadGap> gaps = rb.gaps;
  std::sort(gaps.begin(), gaps.end(),
            [](const ReadGap& a, const ReadGap& b) { return a.first < b.first; });
  auto covered = [&gaps](uint64_t from, uint64_t end) {  // [from, end) in gaps?
    for (const ReadGap& g : gaps) {
      if (g.first <= from && g.end > from) from = g.end;
      if (from >= end) return true;
    }
    return from >= end;
  };
  std::unordered_set<uint64_t> present;
  uint64_t prev = 0;
  for (const ReadEvent& ev : rb.events) {
    if (ev.sequence <= prev) {
      ViolationLocked(absl::StrCat(context, ": the reader returned sequence ", ev.sequence,
                                   " after ", prev));
    } else if (prev != 0 && ev.sequence > prev + 1 && !covered(prev + 1, ev.sequence)) {
      ViolationLocked(absl::StrCat(context, ": sequences ", prev + 1, " to ", ev.sequence - 1,
                                   " are missing with no gap file (contract 3)"));
    }
    prev = std::max(prev, ev.sequence);
    auto id = ParseEventId(ev.event_id);
    if (!id) {
      ViolationLocked(absl::StrCat(context, ": sequence ", ev.sequence, " holds event_id \"",
                                   ev.event_id, "\", never appended (garbage)"));
      continue;
    }
    if (!ev.bytes_match) {
      ViolationLocked(absl::StrCat(context, ": sequence ", ev.sequence, " (", Hex(*id),
                                   ", ", ev.size, " bytes): the bytes differ from those appended"));
      continue;
    }
    auto it = by_id_.find(*id);
    if (it == by_id_.end()) {
      if (adoptable_ && adoptable_(*id)) {
        it = by_id_.emplace(*id, Entry{}).first;
      } else {
        ViolationLocked(absl::StrCat(context, ": sequence ", ev.sequence, " holds ", Hex(*id),
                                     ", an event never appended or found gone before"));
        continue;
      }
    }
    Entry& e = it->second;
    if (e.state == EvState::kRolledBack || e.state == EvState::kGone ||
        e.state == EvState::kImportPending) {
      ViolationLocked(absl::StrCat(context, ": sequence ", ev.sequence, " holds ", Hex(*id),
                                   ", an event ", StateName(e.state), ": it must not be visible"));
      continue;
    }
    BindLocked(*id, &e, ev.sequence, absl::StrCat("read back (", context, ")"));
    if (e.state == EvState::kDurable) ++counts.durable_checked;
    if (e.state == EvState::kAcked) ++counts.acked_checked;
    if (after_writer_open) e.state = EvState::kDurable;  // recovery synced what it kept
    present.insert(*id);
    ++counts.present;
  }
  // What is not there.
  std::vector<uint64_t> erase_seqs;
  for (auto& [seq, id] : by_seq_) {
    if (present.count(id)) continue;
    auto it = by_id_.find(id);
    if (it == by_id_.end()) {
      if (seq < first_present) erase_seqs.push_back(seq);
      continue;
    }
    Entry& e = it->second;
    const bool below = seq < first_present;
    if (below && seq < retain_bound_ && Rank(e.state) >= 0) {
      ++counts.retained;
    } else {
      switch (e.state) {
        case EvState::kDurable:
          ViolationLocked(absl::StrCat(
              context, ": sequence ", seq, ": expected ", Hex(id),
              " (acknowledged durable), found nothing (first sequence present ",
              first_present == UINT64_MAX ? std::string("none") : absl::StrCat(first_present),
              ", retention bound ", retain_bound_, ")"));
          e.state = EvState::kGone;
          break;
        case EvState::kAcked:
          if (!pages_lost) {
            ViolationLocked(absl::StrCat(
                context, ": sequence ", seq, ": expected ", Hex(id),
                " (acknowledged; no page of the page cache was lost since), found nothing "
                "(contract 1)"));
          } else {
            ++counts.lost_allowed;
          }
          e.state = EvState::kGone;
          break;
        case EvState::kAssigned:
        case EvState::kPending:
        case EvState::kImportPending:
          e.state = EvState::kGone;
          break;
        case EvState::kRolledBack:
          ++counts.rolled_back;
          break;
        case EvState::kGone:
          break;
      }
    }
    if (below) {
      erase_seqs.push_back(seq);
      by_id_.erase(it);
    }
  }
  for (uint64_t s : erase_seqs) by_seq_.erase(s);
  // Imports committed with an error: all or nothing.
  for (auto it = imports_.begin(); it != imports_.end();) {
    Import& imp = it->second;
    if (!imp.committed_with_error) {
      ++it;
      continue;
    }
    uint64_t have = 0, total = 0;
    for (uint64_t id : imp.ids) {
      auto e = by_id_.find(id);
      if (e == by_id_.end() || e->second.seq == 0) continue;
      ++total;
      have += present.count(id);
    }
    if (have != 0 && have != total) {
      ViolationLocked(absl::StrCat(context, ": the import from sequence ", imp.first,
                                   " (committed, its directory sync failed) is half there: ",
                                   have, " of ", total, " events"));
    }
    if (after_writer_open) {
      it = imports_.erase(it);
    } else {
      ++it;
    }
  }
  if (after_writer_open) {
    // Attempts never seen have no sequence and are gone for good; what
    // recovery kept is durable.
    for (auto it = by_id_.begin(); it != by_id_.end();) {
      if (it->second.seq == 0) {
        it = by_id_.erase(it);
      } else {
        ++it;
      }
    }
    nondurable_.clear();
  }
  return counts;
}

uint64_t Oracle::max_seen() {
  std::lock_guard<std::mutex> l(mu_);
  return max_seen_;
}

void Oracle::StartSession() {
  std::lock_guard<std::mutex> l(mu_);
  session_floor_ = max_seen_;
}

size_t Oracle::tracked() {
  std::lock_guard<std::mutex> l(mu_);
  return by_id_.size();
}

}  // namespace tracelog::torture
