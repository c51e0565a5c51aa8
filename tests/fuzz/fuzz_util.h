#ifndef TRACELOG_TESTS_FUZZ_FUZZ_UTIL_H_
#define TRACELOG_TESTS_FUZZ_FUZZ_UTIL_H_

// Helpers shared by the libFuzzer targets: each target feeds one decoder
// the fuzzer's bytes and checks the one property every decoder promises:
// bad input is an error status, never a crash, a hang or a wild
// allocation (ASan and UBSan catch the rest; -rss_limit_mb the last).

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/io/fault_file_system.h"

namespace tracelog::fuzz {

inline absl::string_view Bytes(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// A fresh in-memory file system holding the directory /log with `name`
// holding `contents` (durable, as if written before a crash).
inline std::unique_ptr<FaultInjectionFileSystem> LogDirWith(const std::string& name,
                                                            absl::string_view contents) {
  auto fs = std::make_unique<FaultInjectionFileSystem>();
  fs->CreateDir("/log").IgnoreError();
  fs->SetContents("/log/" + name, std::string(contents));
  return fs;
}

// The bytes of a test vector of format-spec/vectors (hex pairs; `#` starts
// a comment). Empty if the file cannot be read.
inline std::string ReadVector(const std::string& name) {
  std::ifstream in(std::string(TRACELOG_SOURCE_DIR) + "/format-spec/vectors/" + name);
  std::string out, line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string hex;
    while (words >> hex) out.push_back(static_cast<char>(std::stoi(hex, nullptr, 16)));
  }
  return out;
}

// Checksums stop a fuzzer at the first byte it changes. An input that
// starts with kFixChecksums is taken as a file whose checksums the harness
// recomputes after the mutation (a file crafted with valid checksums), so
// that the decoders behind them are fuzzed too; any other input is used as
// it is. The seeds include both forms.
inline constexpr char kFixChecksums = '!';
inline bool TakeFixFlag(absl::string_view* bytes) {
  if (bytes->empty() || (*bytes)[0] != kFixChecksums) return false;
  bytes->remove_prefix(1);
  return true;
}

// Aborts (a finding) when `condition` fails: an invariant every decoded
// value must keep whatever the input.
#define TRACELOG_FUZZ_CHECK(condition) \
  do {                                 \
    if (!(condition)) __builtin_trap(); \
  } while (0)

}  // namespace tracelog::fuzz

#endif  // TRACELOG_TESTS_FUZZ_FUZZ_UTIL_H_
