#include "engine/seal/sealer.h"

#include <algorithm>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"
#include "engine/segment/segment.h"
#include "engine/segment/segment_scanner.h"
#include "engine/seal/index_builder.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

namespace {

struct Item {
  uint64_t sequence;
  uint32_t session;
  // Ids of keys.event_type and keys.tool_name among the segment's distinct
  // ones (Names), then their ranks in byte order: the sealed order's sorts
  // compare these instead of the strings (memcmp was ~2.5 % of an import).
  uint32_t type;
  uint32_t tool;
  EventKeys keys;  // views into the raw segment
  absl::string_view event;
};

// The distinct values of one key in a segment (a few dozen at most: event
// types, tool names), the last one looked up compared first.
class Names {
 public:
  uint32_t Id(absl::string_view s) {
    if (last_ < names_.size() && names_[last_] == s) return last_;
    for (last_ = 0; last_ < names_.size(); ++last_) {
      if (names_[last_] == s) return last_;
    }
    names_.push_back(s);
    return last_;
  }
  // rank[id]: the name's position in byte order.
  std::vector<uint32_t> Ranks() const {
    std::vector<uint32_t> by_name(names_.size());
    for (uint32_t i = 0; i < by_name.size(); ++i) by_name[i] = i;
    std::sort(by_name.begin(), by_name.end(),
              [&](uint32_t a, uint32_t b) { return names_[a] < names_[b]; });
    std::vector<uint32_t> rank(names_.size());
    for (uint32_t r = 0; r < by_name.size(); ++r) rank[by_name[r]] = r;
    return rank;
  }

 private:
  std::vector<absl::string_view> names_;  // views into the raw segment
  uint32_t last_ = 0;
};

constexpr size_t kWriteChunk = 4 << 20;
// A block ends once its events reach the block size: at most the block size
// plus one event (kMaxEventSize) plus a few bytes per event; readers refuse
// anything larger (kMaxBlockRawSize, format-spec).
constexpr uint64_t kMaxRawBlockBytes = kMaxBlockRawSize;

// Chooses the dictionary for this segment: the log's, or a new one trained
// from `items` where it pays. Null: compress without.
absl::StatusOr<std::shared_ptr<const Dictionary>> ChooseDictionary(
    const std::vector<Item>& items, uint64_t event_bytes, const SealOptions& options,
    DictionaryStore* dicts, BlockCodec* codec, bool* trained) {
  std::lock_guard<std::mutex> l(dicts->training_mutex());
  auto current = dicts->Current();
  if (!current.ok() || *current != nullptr) return current;
  if (options.dictionary_size == 0 || event_bytes < options.dictionary_min_bytes ||
      dicts->declined()) {
    return std::shared_ptr<const Dictionary>();
  }
  // Until the dictionary is stored (or not trained): a segment sealed
  // meanwhile would wait for it.
  dicts->set_training(true);
  absl::Cleanup trained_or_not = [dicts] { dicts->set_training(false); };
  std::string bytes;
  if (auto kept = dicts->TakeUnstored()) {
    bytes = std::move(*kept);  // trained and found to pay, but not stored
  } else {
    // Samples spread over the segment, about 32 times the dictionary size.
    const uint64_t budget = 32 * static_cast<uint64_t>(options.dictionary_size);
    const size_t step = std::max<uint64_t>(1, event_bytes / std::max<uint64_t>(budget, 1));
    std::vector<absl::string_view> samples;
    for (size_t i = 0; i < items.size(); i += step) samples.push_back(items[i].event);
    dicts->CountTraining();
    auto made = TrainDictionary(samples, options.dictionary_size);
    if (!made.ok()) {
      dicts->Decline();
      return std::shared_ptr<const Dictionary>();
    }
    auto candidate = Dictionary::FromBytes(*made);
    if (!candidate.ok()) {
      dicts->Decline();
      return std::shared_ptr<const Dictionary>();
    }
    // Does it pay? Compress the first few blocks' worth of events both ways.
    std::string probe, with, without;
    for (const Item& it : items) {
      if (probe.size() >= 8 * options.block_size) break;
      probe.append(it.event.data(), it.event.size());
      probe.push_back('\n');
    }
    for (size_t at = 0; at < probe.size(); at += options.block_size) {
      const absl::string_view part = absl::string_view(probe).substr(at, options.block_size);
      if (auto s = codec->Compress(part, options.level, nullptr, &without); !s.ok()) return s;
      if (auto s = codec->Compress(part, options.level, candidate->get(), &with); !s.ok()) {
        return s;
      }
    }
    if (with.size() > without.size() * 98 / 100) {
      dicts->Decline();
      return std::shared_ptr<const Dictionary>();
    }
    bytes = std::move(*made);
  }
  auto stored = dicts->Put(bytes);
  if (stored.ok()) {
    *trained = true;
  } else {
    dicts->KeepUnstored(std::move(bytes));
  }
  return stored;
}

// Writes the sealed file's blocks through a buffer, in large writes.
class SealedWriter {
 public:
  explicit SealedWriter(File* file) : file_(file) { buffer_.assign(kSealedHeaderSize, '\0'); }
  uint64_t offset() const { return flushed_ + buffer_.size(); }
  absl::Status AddBlock(absl::string_view frame, uint32_t raw_size) {
    BlockHeader h{static_cast<uint32_t>(frame.size()), raw_size, Checksum64(frame)};
    char hb[kBlockHeaderSize];
    EncodeBlockHeader(h, hb);
    buffer_.append(hb, sizeof(hb));
    buffer_.append(frame.data(), frame.size());
    return buffer_.size() >= kWriteChunk ? Flush() : absl::OkStatus();
  }
  absl::Status Flush() {
    if (buffer_.empty()) return absl::OkStatus();
    absl::Status s = file_->Write(flushed_, buffer_);
    flushed_ += buffer_.size();
    buffer_.clear();
    return s;
  }

 private:
  File* const file_;
  std::string buffer_;
  uint64_t flushed_ = 0;
};

// CancelledError naming the segment, once `tuning` says to give up.
absl::Status CheckCancelled(const SealTuning& tuning, const Segment& raw) {
  if (!tuning.cancelled()) return absl::OkStatus();
  return absl::CancelledError(absl::StrCat(raw.path(), ": sealing given up (the log is closing)"));
}

// Reads every record of `raw` up to `last_sequence` into `items`: sessions
// numbered in order of first appearance (`sessions` of them), types and
// tools by rank. Any damage fails, and the raw segment stays as it is.
absl::Status ReadItems(const Segment& raw, uint64_t last_sequence, const SealTuning& tuning,
                       std::vector<Item>* items, uint32_t* sessions, uint64_t* event_bytes) {
  absl::flat_hash_map<absl::string_view, uint32_t> session_of;
  uint32_t last_session = UINT32_MAX;
  absl::string_view last_session_id;
  Names types, tools;
  SegmentScanner::Bounds bounds;
  bounds.last_sequence = last_sequence;  // a short segment is damaged
  SegmentScanner scanner(raw.path(), raw.contents(), kSegmentHeaderSize, raw.size(), raw.base(),
                         SegmentScanner::Mode::kStopAtDamage, nullptr, bounds);
  RecordView rec;
  while (scanner.Next(&rec)) {
    if (items->size() % 1024 == 0) {
      if (auto s = CheckCancelled(tuning, raw); !s.ok()) return s;
    }
    Item it;
    it.sequence = rec.sequence;
    it.event = rec.event;
    if (!DecodeKeys(rec.keys, &it.keys)) {
      return absl::DataLossError(absl::StrCat(raw.path(), ": bad keys in the record of sequence ",
                                              rec.sequence));
    }
    it.keys.timestamp = rec.timestamp;
    it.keys.has_timestamp = (rec.flags & kFlagHasTimestamp) != 0;
    it.keys.error = (rec.flags & kFlagError) != 0;
    // Events of one session mostly follow each other (a directory import
    // appends a session at a time): the last one is compared before the
    // map is asked.
    if (last_session == UINT32_MAX || it.keys.session_id != last_session_id) {
      auto [pos, inserted] = session_of.try_emplace(it.keys.session_id, *sessions);
      if (inserted) ++*sessions;
      last_session = pos->second;
      last_session_id = it.keys.session_id;  // a view into the raw segment, valid while sealing
    }
    it.session = last_session;
    it.type = types.Id(it.keys.event_type);
    it.tool = tools.Id(it.keys.tool_name);
    *event_bytes += rec.event.size();
    items->push_back(it);
  }
  if (scanner.stopped_at_damage()) {
    // The scanner's reason ends with the sequences it did not reach; they
    // are not missing to readers, which skip only the damaged records.
    const std::string& why = scanner.stop_reason();
    return absl::DataLossError(absl::StrCat(
        raw.path(), ": ", absl::string_view(why).substr(0, why.find("; sequences")),
        " (sequence ", scanner.expected_sequence(),
        "); the segment is left unsealed (readers skip only the damaged records)"));
  }
  if (items->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(raw.path(), ": no event to seal"));
  }
  if (items->back().sequence != last_sequence) {  // the scanner checks this; be sure
    return absl::DataLossError(absl::StrCat(raw.path(), ": ends at sequence ",
                                            items->back().sequence, ", not ", last_sequence,
                                            "; the segment is left unsealed"));
  }
  const std::vector<uint32_t> type_rank = types.Ranks(), tool_rank = tools.Ranks();
  for (Item& it : *items) {
    it.type = type_rank[it.type];
    it.tool = tool_rank[it.tool];
  }
  return absl::OkStatus();
}

// The events' sealed order: indexes into the items, by region.
struct SealedOrder {
  std::vector<uint32_t> order;
  uint32_t main_end = 0;    // where the tool-call region begins
  size_t errors_begin = 0;  // where the error region begins
};

// Sealed order, in three regions (format-spec/README.md, "Sealed order"):
//   main:       every other event, by session (in order of first
//               appearance), then event type, then sequence: a session is
//               one run of few blocks;
//   tool calls: non-error tool_call events, by (tool, session, sequence),
//               in small blocks (tool_call_block_size), so "the calls of
//               tool X" reads only those blocks, and a session's calls of
//               one tool are one small run;
//   errors:     events flagged as errors, by (tool, session, sequence), in
//               blocks a quarter of the size.
SealedOrder OrderItems(const std::vector<Item>& items, uint32_t sessions) {
  enum Region : uint8_t { kMain = 0, kToolCalls = 1, kErrors = 2 };
  auto region_of = [](const Item& it) {
    return it.keys.error ? kErrors : it.keys.event_type == "tool_call" ? kToolCalls : kMain;
  };
  std::vector<uint32_t> start(sessions + size_t{1}, 0);
  for (const Item& it : items) {
    if (region_of(it) == kMain) ++start[it.session + 1];
  }
  for (size_t s = 0; s < sessions; ++s) start[s + 1] += start[s];
  SealedOrder out;
  out.main_end = start.back();
  std::vector<uint32_t>& order = out.order;
  order.resize(items.size());
  std::vector<uint32_t> tool_calls, errors;
  for (uint32_t i = 0; i < items.size(); ++i) {
    switch (region_of(items[i])) {
      case kMain: order[start[items[i].session]++] = i; break;  // a counting sort: stable
      case kToolCalls: tool_calls.push_back(i); break;
      case kErrors: errors.push_back(i); break;
    }
  }
  // Within a session, events of one type sit together: similar events next
  // to each other compress ~1 % better, and the session stays one run.
  for (size_t s = 0, from = 0; s < sessions; ++s) {
    const size_t to = start[s];  // advanced to the end of session s above
    std::stable_sort(order.begin() + from, order.begin() + to,
                     [&](uint32_t a, uint32_t b) { return items[a].type < items[b].type; });
    from = to;
  }
  auto by_tool = [&](uint32_t a, uint32_t b) {
    return std::tie(items[a].tool, items[a].session) < std::tie(items[b].tool, items[b].session);
  };
  std::stable_sort(tool_calls.begin(), tool_calls.end(), by_tool);
  std::stable_sort(errors.begin(), errors.end(), by_tool);
  std::copy(tool_calls.begin(), tool_calls.end(), order.begin() + out.main_end);
  out.errors_begin = out.main_end + tool_calls.size();
  std::copy(errors.begin(), errors.end(), order.begin() + out.errors_begin);
  return out;
}

// Gathers events into blocks; each full block is encoded, compressed,
// indexed and handed to the writer.
class BlockPacker {
 public:
  // All must outlive the packer.
  BlockPacker(const Segment& raw, const SealOptions& options, const Dictionary* dict,
              BlockCodec* codec, IndexBuilder* builder, SealedWriter* writer)
      : raw_(raw),
        options_(options),
        dict_(dict),
        codec_(codec),
        builder_(builder),
        writer_(writer) {}

  // Adds an event to the current block, and ends the block once it holds
  // `limit` bytes.
  absl::Status Add(const Item& it, uint64_t limit) {
    block_.push_back(BlockEvent{it.sequence, it.event});
    builder_->Add(it.sequence, it.keys, it.event);
    block_bytes_ += it.event.size() + 4;
    return block_bytes_ >= limit ? EndBlock() : absl::OkStatus();
  }
  // Ends the current block, if it holds an event.
  absl::Status EndBlock() {
    if (block_.empty()) return absl::OkStatus();
    raw_block_.clear();
    EncodeRawBlock(raw_.base(), block_, &raw_block_);
    if (raw_block_.size() > kMaxRawBlockBytes) {  // readers refuse larger blocks
      return absl::InvalidArgumentError(absl::StrCat(
          raw_.path(), ": a block of ", raw_block_.size(), " bytes; block sizes over ",
          kMaxRawBlockBytes, " bytes cannot be stored (is --block-size too large?)"));
    }
    frame_.clear();
    if (auto s = codec_->Compress(raw_block_, options_.level, dict_, &frame_); !s.ok()) return s;
    builder_->EndBlock(writer_->offset(), static_cast<uint32_t>(frame_.size()),
                       static_cast<uint32_t>(raw_block_.size()));
    ++blocks_;
    block_.clear();
    block_bytes_ = 0;
    return writer_->AddBlock(frame_, static_cast<uint32_t>(raw_block_.size()));
  }
  uint64_t blocks() const { return blocks_; }

 private:
  const Segment& raw_;
  const SealOptions& options_;
  const Dictionary* const dict_;  // null: none
  BlockCodec* const codec_;
  IndexBuilder* const builder_;
  SealedWriter* const writer_;
  std::vector<BlockEvent> block_;
  size_t block_bytes_ = 0;
  std::string raw_block_, frame_;
  uint64_t blocks_ = 0;
};

// Writes the items in sealed order to `file` as blocks indexed by
// `builder` (`blocks` of them), then `header` (filled here), and syncs the
// file. Blocks end where a region ends; tool-call and error blocks are
// smaller, as a session read decompresses every one that holds one of its
// events.
absl::Status WriteSealedFile(const Segment& raw, const std::vector<Item>& items,
                             const SealedOrder& order, const SealOptions& options,
                             const SealTuning& tuning, const Dictionary* dict, BlockCodec* codec,
                             File* file, IndexBuilder* builder, SealedHeader* header,
                             uint64_t* blocks) {
  SealedWriter writer(file);
  BlockPacker packer(raw, options, dict, codec, builder, &writer);
  uint64_t limit = options.block_size;
  for (size_t k = 0; k < order.order.size(); ++k) {
    if (k % 256 == 0) {
      if (auto s = CheckCancelled(tuning, raw); !s.ok()) return s;
    }
    if (k == order.main_end || k == order.errors_begin) {
      if (auto s = packer.EndBlock(); !s.ok()) return s;
    }
    if (k == order.main_end) limit = std::max<uint64_t>(options.tool_call_block_size, 1);
    if (k == order.errors_begin) limit = std::max<uint64_t>(options.block_size / 4, 1);
    if (auto s = packer.Add(items[order.order[k]], limit); !s.ok()) return s;
  }
  if (auto s = packer.EndBlock(); !s.ok()) return s;
  if (auto s = writer.Flush(); !s.ok()) return s;
  *blocks = packer.blocks();

  header->block_count = static_cast<uint32_t>(packer.blocks());
  header->base_sequence = raw.base();
  header->last_sequence = items.back().sequence;
  header->event_count = items.size();
  header->data_end = writer.offset();
  header->dict_id = dict != nullptr ? dict->id() : 0;
  char hb[kSealedHeaderSize];
  EncodeSealedHeader(*header, hb);
  if (auto s = file->Write(0, absl::string_view(hb, sizeof(hb))); !s.ok()) return s;
  return file->Sync();
}
}  // namespace

absl::Status VerifySealedFile(FileSystem* fs, const std::string& path, uint64_t base,
                              uint64_t last, DictionaryStore* dicts, BlockCodec* codec) {
  auto sealed = SealedSegment::OpenFile(fs, path, base, dicts);
  if (!sealed.ok()) return sealed.status();
  if (!(*sealed)->header_status().ok()) return (*sealed)->header_status();
  std::vector<std::unique_ptr<std::string>> storage;
  std::vector<BlockEvent> events;
  std::string damage;
  const uint64_t damaged = (*sealed)->ReadAll(codec, &storage, &events, [&](const Corruption& c) {
    if (damage.empty()) damage = c.ToString();
  });
  if (damaged > 0) return absl::DataLossError(absl::StrCat("reading it back: ", damage));
  if (events.size() != last - base + 1) {
    return absl::DataLossError(absl::StrCat(path, ": read back ", events.size(), " events, not the ",
                                            last - base + 1, " of sequences ", base, " to ", last));
  }
  for (size_t k = 0; k < events.size(); ++k) {
    if (events[k].sequence != base + k) {
      return absl::DataLossError(absl::StrCat(path, ": read back sequence ", events[k].sequence,
                                              " where ", base + k, " belongs"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SealStats> SealSegment(FileSystem* fs, const std::string& dir, const Segment& raw,
                                      uint64_t last_sequence, const SealOptions& options,
                                      DictionaryStore* dicts, BlockCodec* codec,
                                      const SealTuning& tuning) {
  SealStats stats;
  const uint64_t base = raw.base();
  if (last_sequence < base) {
    return absl::FailedPreconditionError(absl::StrCat(raw.path(), ": no event to seal"));
  }
  std::vector<Item> items;
  uint32_t sessions = 0;
  if (auto s = ReadItems(raw, last_sequence, tuning, &items, &sessions, &stats.event_bytes); !s.ok()) {
    return s;
  }
  stats.events = items.size();
  if (auto s = CheckCancelled(tuning, raw); !s.ok()) return s;
  const SealedOrder order = OrderItems(items, sessions);

  auto dict = ChooseDictionary(items, stats.event_bytes, options, dicts, codec,
                               &stats.trained_dictionary);
  if (!dict.ok()) return dict.status();
  if (auto s = CheckCancelled(tuning, raw); !s.ok()) return s;

  const std::string sealed_path = JoinPath(dir, SealedFileName(base));
  const std::string tmp_path = sealed_path + ".tmp";
  const std::string index_path = JoinPath(dir, IndexFileName(base));
  if (auto e = fs->Exists(tmp_path); e.ok() && *e) fs->Remove(tmp_path).IgnoreError();
  auto file = fs->Open(tmp_path, OpenMode::kCreateExclusive);
  if (!file.ok()) return file.status();
  IndexBuilder builder(base);
  SealedHeader header;
  if (auto s = WriteSealedFile(raw, items, order, options, tuning, dict->get(), codec, file->get(),
                               &builder, &header, &stats.blocks);
      !s.ok()) {
    file->reset();
    fs->Remove(tmp_path).IgnoreError();
    return s;
  }
  file->reset();
  if (auto s = CheckCancelled(tuning, raw); !s.ok()) {
    fs->Remove(tmp_path).IgnoreError();
    return s;
  }
  // Read back before it can replace the raw segment (recovery prefers an
  // intact sealed file to the raw one): every block, exactly these events.
  if (auto s = VerifySealedFile(fs, tmp_path, base, last_sequence, dicts, codec); !s.ok()) {
    fs->Remove(tmp_path).IgnoreError();
    return absl::DataLossError(absl::StrCat(sealed_path, ": ", s.message(),
                                            "; the segment is left unsealed"));
  }
  if (tuning.drop_cache) {
    if (auto f = fs->Open(tmp_path, OpenMode::kRead); f.ok()) (*f)->DropCache();
  }
  stats.sealed_bytes = header.data_end;

  const std::string index = EncodeIndex(builder.Finish(header.data_end));
  stats.index_bytes = index.size();
  if (index.empty()) {
    // Too large for the format: readers rebuild it from the blocks.
  } else if (auto s = WriteFileAtomically(fs, dir, index_path, index, /*sync_dir=*/false); !s.ok()) {
    fs->Remove(tmp_path).IgnoreError();
    return s;
  }
  if (auto s = fs->Rename(tmp_path, sealed_path); !s.ok()) {
    fs->Remove(tmp_path).IgnoreError();
    return s;
  }
  if (auto s = fs->SyncDir(dir); !s.ok()) return s;
  return stats;
}

}  // namespace tracelog
