#ifndef TRACELOG_TESTS_TESTUTIL_TEST_UTIL_H_
#define TRACELOG_TESTS_TESTUTIL_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/segment/segment_scanner.h"
#include "gtest/gtest.h"

namespace tracelog::testing {

inline const absl::Status& ToStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

#define EXPECT_OK(expr) EXPECT_TRUE(::tracelog::testing::ToStatus(expr).ok()) \
    << ::tracelog::testing::ToStatus(expr)
#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const auto& _st = (expr);                                        \
    ASSERT_TRUE(::tracelog::testing::ToStatus(_st).ok())             \
        << ::tracelog::testing::ToStatus(_st);                       \
  } while (0)

// A fresh, empty directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A small agent event line in agent-strace's form.
std::string MakeEvent(uint64_t i, const std::string& session = "s1", size_t pad = 0);

// Reads a whole file; empty string if missing.
std::string ReadFileOrEmpty(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& data);
// Exactly one damaged range was reported (`seen`), in `file`, around byte `at`.
void ExpectOneCorruptionAround(const std::vector<Corruption>& seen, const std::string& file,
                               uint64_t at);

}  // namespace tracelog::testing

#endif  // TRACELOG_TESTS_TESTUTIL_TEST_UTIL_H_
