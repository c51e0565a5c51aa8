// Many appending threads plus concurrent readers. Built also with
// ThreadSanitizer (ctest -R tsan.).

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/log.h"
#include "engine/query/query.h"
#include "engine/query/worker_pool.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::TempDir;

TEST(WorkerPoolTest, EveryItemRunsOnceAndTwoCallersShareThePool) {
  WorkerPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (size_t n : {0, 1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    std::atomic<int> bad_worker{0};
    pool.Run(n, [&](size_t i, int w) {
      if (w < 0 || w >= pool.size()) bad_worker.fetch_add(1);
      hits[i].fetch_add(1);
    });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "item " << i << " of " << n;
    EXPECT_EQ(bad_worker.load(), 0);
  }
  // Two callers at once: each gets all of its items done, whichever of them
  // has the helpers.
  std::vector<std::thread> callers;
  std::atomic<uint64_t> sums[2] = {0, 0};
  for (int c = 0; c < 2; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 50; ++round) {
        pool.Run(100, [&](size_t i, int) { sums[c].fetch_add(i); });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sums[0].load(), 50u * 4950u);
  EXPECT_EQ(sums[1].load(), 50u * 4950u);
}

class ConcurrencyTest : public ::testing::TestWithParam<SyncPolicy::Kind> {};

TEST_P(ConcurrencyTest, AppendersAndReadersAgree) {
  TempDir dir;
  LogOptions o;
  o.segment_size = 32 << 10;  // many rolls under contention
  o.sync.kind = GetParam();
  o.sync.value = GetParam() == SyncPolicy::Kind::kBytes ? 4096 : 2;
  o.tuning.prefault_bytes = 8 << 10;
  // Under `always` on ext4/XFS: zeros written and synced ahead of the
  // writers a few KiB at a time, beside their appends, rolls and syncs.
  o.tuning.zero_ahead_bytes = 8 << 10;
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  constexpr int kWriters = 6;
  const int per_writer = GetParam() == SyncPolicy::Kind::kAlways ? 150 : 600;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reader_checks{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> seqs(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i) {
        auto seq = (*log)->Append(MakeEvent(w * 100000 + i, absl::StrCat("w", w), i % 5 * 30));
        ASSERT_OK(seq);
        seqs[w].push_back(*seq);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      while (!done.load()) {
        ReaderOptions ro;
        ro.read_ahead = r == 1;  // one reader decompresses sealed segments ahead
        auto reader = (*log)->NewReader(ro);
        LogEvent ev;
        uint64_t expect = 1;
        while (reader->Next(&ev)) {
          ASSERT_EQ(ev.sequence, expect++);
          ASSERT_EQ(ev.event.substr(0, 14), "{\"event_type\":");
        }
        ASSERT_EQ(reader->corruptions(), 0u);
        reader_checks.fetch_add(1);
      }
    });
  }
  // Queries (sharing one engine and its index cache) while writers append
  // and the log seals rolled segments in the background.
  QueryEngine engine(log->get());
  std::atomic<uint64_t> query_checks{0};
  for (int q = 0; q < 2; ++q) {
    threads.emplace_back([&, q] {
      uint64_t last_count = 0;
      Query one;
      one.sessions = {absl::StrCat("w", q + 1)};
      while (!done.load()) {
        auto count = engine.Count(one);
        ASSERT_OK(count);
        ASSERT_GE(*count, last_count) << "the log only grows";
        last_count = *count;
        uint64_t prev = 0, n = 0;
        auto run = engine.Run(one, [&](uint64_t seq, absl::string_view event) {
          EXPECT_GT(seq, prev);
          prev = seq;
          ++n;
          EXPECT_NE(event.find(absl::StrCat("\"session_id\":\"w", q + 1, "\"")),
                    absl::string_view::npos);
          return true;
        });
        ASSERT_OK(run);
        ASSERT_EQ(*run, n);
        ASSERT_GE(n, *count) << "a later snapshot holds at least as much";
        query_checks.fetch_add(1);
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done.store(true);
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_GT(reader_checks.load(), 0u);
  EXPECT_GT(query_checks.load(), 0u);

  // Every sequence handed out exactly once; each writer's events in its order.
  std::set<uint64_t> all;
  for (const auto& v : seqs) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kWriters * per_writer));
  EXPECT_EQ(*all.rbegin(), all.size());
  ASSERT_OK((*log)->Close());

  auto again = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(again);
  auto reader = (*again)->NewReader(ReaderOptions{});
  LogEvent ev;
  std::vector<int> next(kWriters, 0);
  uint64_t n = 0;
  while (reader->Next(&ev)) {
    const int w = ev.keys.session_id[1] - '0';
    ASSERT_EQ(ev.event, MakeEvent(w * 100000 + next[w], absl::StrCat("w", w), next[w] % 5 * 30));
    ++next[w];
    ++n;
  }
  EXPECT_EQ(n, all.size());
}

std::string PolicyName(const ::testing::TestParamInfo<SyncPolicy::Kind>& info) {
  SyncPolicy p;
  p.kind = info.param;
  const std::string s = p.ToString();
  return s.substr(0, s.find(':'));
}

INSTANTIATE_TEST_SUITE_P(Policies, ConcurrencyTest,
                         ::testing::Values(SyncPolicy::Kind::kAlways, SyncPolicy::Kind::kNever,
                                           SyncPolicy::Kind::kInterval, SyncPolicy::Kind::kBytes),
                         PolicyName);

}  // namespace
}  // namespace tracelog
