#ifndef TRACELOG_ENGINE_LOG_LOG_READER_H_
#define TRACELOG_ENGINE_LOG_LOG_READER_H_

// The LogReader behind Log::NewReader: raw segments scanned, sealed ones
// decompressed whole (the next one on a thread of its own while this one is
// read, with ReaderOptions::read_ahead).

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "engine/log/log.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

class BlockCodec;
class EventKeyExtractor;
class SegmentSet;

class LogReaderImpl final : public LogReader {
 public:
  // Reads the segments of `set` with logical numbers below `segment_end`,
  // the last one up to `active_limit` (its readable end) and `last_seq`.
  LogReaderImpl(SegmentSet* set, ReaderOptions options, size_t segment_end, uint64_t last_seq,
                uint64_t active_limit);
  ~LogReaderImpl() override;

  bool Next(LogEvent* ev) override;
  const absl::Status& status() const override { return status_; }
  uint64_t corruptions() const override {
    return corruptions_ + (scanner_ != nullptr ? scanner_->corruptions() : 0);
  }
  uint64_t decoded_ahead() const override { return decoded_ahead_; }

 private:
  struct Decoded;
  // The segment at index_, as the set holds it (taken under its lock).
  struct Taken {
    bool skip = false;  // removed by retention, or ends before from_sequence
    bool last = false;  // the reader's last segment
    bool gap = false;
    GapRecord gap_record;
    absl::Status status;  // a gap's damage or the open's error
    uint64_t base = 0;
    uint64_t end_sequence = 0;  // the next segment's base - 1 (0: unknown)
    uint64_t records_limit = 0;
    std::string path;
    std::shared_ptr<Segment> raw;
    std::shared_ptr<SealedSegment> sealed;
  };
  Taken Take();
  bool OpenSegment();
  void Report(const absl::Status& s, const std::string& path);
  // Reports the sequences between the previous segment's end and `base`.
  void ReportMissing(uint64_t base, const std::string& path);
  static std::unique_ptr<Decoded> Decode(std::shared_ptr<SealedSegment> sealed,
                                         BlockCodec* codec);
  // With read_ahead: starts decompressing segment `index` if it is sealed.
  void StartReadAhead(size_t index);

  SegmentSet* const set_;
  const ReaderOptions options_;
  const size_t segment_end_;  // logical number past the last segment
  const uint64_t last_seq_;
  const uint64_t active_limit_;  // readable end of the last segment
  size_t index_ = 0;  // logical segment number
  uint64_t next_expected_ = 0;  // the sequence after the previous segment's (0: unknown)
  uint64_t scan_end_sequence_ = 0;  // Bounds::last_sequence of the raw segment being scanned
  std::shared_ptr<Segment> segment_;
  std::vector<std::shared_ptr<Segment>> held_;  // segments read so far (mappings kept)
  std::unique_ptr<SegmentScanner> scanner_;
  // A sealed segment being read: its events in sequence order.
  bool in_sealed_ = false;
  std::vector<std::unique_ptr<std::string>> sealed_storage_;
  std::vector<BlockEvent> sealed_events_;
  size_t sealed_pos_ = 0;
  std::unique_ptr<BlockCodec> codec_;
  std::unique_ptr<EventKeyExtractor> extractor_;
  absl::Status status_;
  uint64_t corruptions_ = 0;
  std::unique_ptr<BlockCodec> ahead_codec_;  // the read-ahead thread's (one at a time)
  std::future<std::unique_ptr<Decoded>> ahead_;  // after ahead_codec_: waited for first
  uint64_t decoded_ahead_ = 0;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_LOG_READER_H_
