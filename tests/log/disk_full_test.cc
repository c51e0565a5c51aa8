// A full disk, on a real file system (issue 14, point 13): a small tmpfs
// mounted for the test (it needs CAP_SYS_ADMIN; without it the test is
// skipped and says so). The fault-injecting file system covers the same
// path in tests/log/fault_injection_test.cc.

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/log.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::TempDir;

// A tmpfs of `bytes` at a fresh directory, unmounted on destruction.
class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& at, uint64_t bytes) : path_(at) {
    std::filesystem::create_directories(path_);
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                       absl::StrCat("size=", bytes, ",mode=0700").c_str()) == 0;
    if (!mounted_) why_ = std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

class DiskFullTest : public ::testing::TestWithParam<SyncPolicy::Kind> {};

// Append until the disk is full: a clear error (ResourceExhausted, "No
// space left"), the log not in a failed state, nothing acknowledged lost;
// once space is freed, appends resume without a reopen, at the next
// sequence.
TEST_P(DiskFullTest, AppendsUntilFullFailCleanlyAndResumeOnceSpaceIsFreed) {
  TempDir dir;
  SmallTmpfs fs(dir.Sub("mnt"), 4 << 20);
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << fs.why();
  const std::string log_dir = dir.Sub("mnt/log");
  const std::string filler = dir.Sub("mnt/filler");
  testing::WriteFileOrDie(filler, std::string(1 << 20, 'f'));  // freed later
  const LogOptions o = testing::SmallLogOptions(nullptr, 512 << 10, GetParam());
  std::vector<std::string> acked;
  {
    auto log = Log::Open(log_dir, o);
    ASSERT_OK(log);
    absl::Status full;
    for (int i = 0; i < 100000 && full.ok(); ++i) {
      std::string e = MakeEvent(i, "s", 400);
      auto seq = (*log)->Append(e);
      if (!seq.ok()) {
        full = seq.status();
        break;
      }
      ASSERT_EQ(*seq, acked.size() + 1);
      acked.push_back(e);
    }
    ASSERT_TRUE(absl::IsResourceExhausted(full)) << full;
    EXPECT_NE(full.message().find("No space left"), std::string::npos) << full;
    EXPECT_GT(acked.size(), 100u);
    // Still full: still the same error, not a failed state.
    EXPECT_TRUE(absl::IsResourceExhausted((*log)->Append(MakeEvent(99999)).status()));
    ASSERT_OK((*log)->Sync());
    std::filesystem::remove(filler);
    for (int i = 0; i < 50; ++i) {
      std::string e = MakeEvent(100000 + i, "s", 400);
      auto seq = (*log)->Append(e);
      ASSERT_OK(seq);
      EXPECT_EQ(*seq, acked.size() + 1);
      acked.push_back(e);
    }
    ASSERT_OK((*log)->Close());
  }
  auto log = Log::Open(log_dir, o);
  ASSERT_OK(log);
  auto reader = (*log)->NewReader(ReaderOptions{});
  LogEvent ev;
  std::vector<std::string> got;
  while (reader->Next(&ev)) got.emplace_back(ev.event);
  EXPECT_EQ(reader->corruptions(), 0u);
  EXPECT_EQ(got.size(), acked.size());
  EXPECT_TRUE(got == acked);
}

INSTANTIATE_TEST_SUITE_P(Policies, DiskFullTest,
                         ::testing::Values(SyncPolicy::Kind::kAlways, SyncPolicy::Kind::kNever),
                         [](const ::testing::TestParamInfo<SyncPolicy::Kind>& i) {
                           return std::string(i.param == SyncPolicy::Kind::kAlways ? "Always"
                                                                                   : "Never");
                         });

}  // namespace
}  // namespace tracelog
