// A seal that is given up (SealTuning::cancel: the log is closing) leaves
// the raw segment as it was and no file behind; the log's next writer seals
// the segment.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/io/fault_file_system.h"
#include "engine/log/log.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealer.h"
#include "engine/segment/segment.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::MakeEvent;

class SealCancelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(fs_.CreateDir("/log"));
    LogOptions o = Options();
    o.seal_on_roll = false;
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    for (int i = 0; (*log)->Stats().segments < 2; ++i) {
      ASSERT_OK((*log)->Append(MakeEvent(i, "s" + std::to_string(i % 7), 300)));
    }
    last_ = (*log)->SnapshotSegments().at(1).base - 1;
    ASSERT_OK((*log)->Close());
    raw_bytes_ = fs_.Contents(RawPath());
  }

  LogOptions Options() {
    LogOptions o;
    o.fs = &fs_;
    o.segment_size = 256 << 10;
    o.sync.kind = SyncPolicy::Kind::kNever;
    o.tuning.prefault_bytes = 0;
    return o;
  }
  static std::string RawPath() { return "/log/" + SegmentFileName(1); }

  absl::StatusOr<SealStats> Seal(const SealTuning& tuning) {
    auto raw = Segment::Open(&fs_, RawPath(), 1, /*writable=*/false);
    if (!raw.ok()) return raw.status();
    DictionaryStore dicts(&fs_, "/log");
    BlockCodec codec;
    return SealSegment(&fs_, "/log", **raw, last_, SealOptions(), &dicts, &codec, tuning);
  }

  bool Exists(const std::string& path) { return *fs_.Exists(path); }


  FaultInjectionFileSystem fs_;
  uint64_t last_ = 0;
  std::string raw_bytes_;
};

TEST_F(SealCancelTest, ASealCancelledBeforeItStartsWritesNothing) {
  std::atomic<bool> cancel{true};
  SealTuning tuning;
  tuning.cancel = &cancel;
  auto st = Seal(tuning);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(absl::IsCancelled(st.status())) << st.status();
  EXPECT_TRUE(absl::StrContains(st.status().message(), RawPath())) << st.status();
  EXPECT_FALSE(Exists("/log/" + SealedFileName(1) + ".tmp"));
  EXPECT_FALSE(Exists("/log/" + SealedFileName(1)));
  EXPECT_EQ(fs_.Contents(RawPath()), raw_bytes_);
}

TEST_F(SealCancelTest, ASealCancelledWhileItWritesRemovesItsTemporaryFile) {
  std::atomic<bool> cancel{false};
  int tmp_writes = 0;
  fs_.SetWriteHook([&](const std::string& path) {
    if (absl::EndsWith(path, ".sealed.tmp") && ++tmp_writes == 1) cancel = true;
  });
  SealTuning tuning;
  tuning.cancel = &cancel;
  auto st = Seal(tuning);
  fs_.SetWriteHook(nullptr);
  ASSERT_GT(tmp_writes, 0) << "the seal wrote nothing before it was cancelled";
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(absl::IsCancelled(st.status())) << st.status();
  EXPECT_FALSE(Exists("/log/" + SealedFileName(1) + ".tmp"));
  EXPECT_FALSE(Exists("/log/" + SealedFileName(1)));
  EXPECT_FALSE(Exists("/log/" + IndexFileName(1)));
  EXPECT_EQ(fs_.Contents(RawPath()), raw_bytes_);
  // Not cancelled, the same seal goes through.
  ASSERT_OK(Seal(SealTuning()));
  EXPECT_TRUE(Exists("/log/" + SealedFileName(1)));
}

// Close gives the background seal up instead of waiting for it (when it
// gets there in time) and the next writer seals what is left; either way
// no temporary file stays and every event reads back.
TEST_F(SealCancelTest, TheNextWriterSealsWhatACloseGaveUp) {
  std::vector<std::string> before;
  {
    auto log = Log::Open("/log", Options());  // seals segment 1 in the background
    ASSERT_OK(log);
    before = testing::ReadAll(log->get());
    ASSERT_OK((*log)->Close());
  }
  EXPECT_FALSE(Exists("/log/" + SealedFileName(1) + ".tmp"));
  auto log = Log::Open("/log", Options());
  ASSERT_OK(log);
  ASSERT_OK((*log)->SealAll());
  // (The raw file goes a moment later: the thread that sealed it removes
  // it after it has put the sealed one in its place.)
  EXPECT_TRUE(Exists("/log/" + SealedFileName(1)));
  EXPECT_EQ(testing::ReadAll(log->get()), before);
}

}  // namespace
}  // namespace tracelog
