#include "tests/testutil/test_util.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace tracelog::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::string base = ::testing::TempDir();
  if (!base.empty() && base.back() == '/') base.pop_back();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? absl::StrCat(info->test_suite_name(), ".", info->name())
                                     : std::string("test");
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  path_ = absl::StrCat(base, "/tracelog-", getpid(), "-", counter++, "-", name);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string MakeEvent(uint64_t i, const std::string& session, size_t pad) {
  std::string e = absl::StrCat(
      R"({"event_type":"tool_call","timestamp":)", 1795440000 + i, ".5", R"(,"event_id":"e)", i,
      R"(","session_id":")", session, R"(","data":{"tool_name":"Bash","arguments":{"command":"echo )",
      i, std::string(pad, 'x'), R"("}}})");
  return e;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  ASSERT_TRUE(out.good()) << path;
}

void ExpectOneCorruptionAround(const std::vector<Corruption>& seen, const std::string& file,
                               uint64_t at) {
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].file, file);
  EXPECT_LT(seen[0].begin, at);
  EXPECT_GT(seen[0].end, at);
}

}  // namespace tracelog::testing
