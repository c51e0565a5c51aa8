// tracelog seal / reindex: sealed segments by hand.

#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/io/atomic_file.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct SealFlags {
  std::string dir;
  uint64_t block_size = 0;
  uint64_t tool_call_block_size = 0;
  int level = 0;
  int64_t dictionary_size = -1;
};

int RunSeal(const SealFlags& f) {
  LogOverrides o;
  SealOptions& seal = o.seal.emplace();
  if (f.block_size != 0) seal.block_size = f.block_size;
  if (f.tool_call_block_size != 0) seal.tool_call_block_size = f.tool_call_block_size;
  if (f.level != 0) seal.level = f.level;
  if (f.dictionary_size >= 0) seal.dictionary_size = static_cast<uint64_t>(f.dictionary_size);
  auto log = OpenLog(f.dir, /*read_only=*/false, o);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  const LogStats before = (*log)->Stats();
  absl::Status s = (*log)->SealAll();
  const LogStats after = (*log)->Stats();
  // A damaged segment stays raw; the others were sealed: say both, exit 1.
  const bool damage = absl::IsDataLoss(s);
  if (auto c = (*log)->Close(); s.ok() || damage) s = c.ok() ? s : c;
  if (!s.ok() && !absl::IsDataLoss(s)) {
    PrintError(s);
    return kExitError;
  }
  if (!s.ok()) PrintError(s);
  std::printf("sealed %llu segment(s); %llu of %llu segments are sealed; %llu bytes stored\n",
              static_cast<unsigned long long>(after.sealed_segments - before.sealed_segments),
              static_cast<unsigned long long>(after.sealed_segments),
              static_cast<unsigned long long>(after.segments),
              static_cast<unsigned long long>(after.stored_bytes));
  return s.ok() ? kExitOk : kExitNegative;
}

int RunReindex(const SealFlags& f) {
  // Opened for writing: no other process seals or removes segments meanwhile.
  auto log = OpenLog(f.dir, /*read_only=*/false);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  BlockCodec codec;
  uint64_t rebuilt = 0;
  int rc = kExitOk;
  for (const SegmentSnapshot& seg : (*log)->SnapshotSegments([&](const Corruption& c) {
         PrintError(c.ToString());
         rc = kExitError;
       })) {
    if (seg.sealed == nullptr) continue;
    auto index = BuildIndexFromBlocks(*seg.sealed, &codec);
    absl::Status s = index.status();
    if (s.ok()) {
      s = WriteFileAtomically(DefaultFileSystem(), (*log)->dir(), seg.sealed->index_path(),
                              EncodeIndex(*index));
    }
    if (!s.ok()) {
      PrintError(s);
      rc = kExitError;
      continue;
    }
    ++rebuilt;
  }
  if (auto s = (*log)->Close(); !s.ok()) {
    PrintError(s);
    rc = kExitError;
  }
  std::printf("rebuilt %llu index(es)\n", static_cast<unsigned long long>(rebuilt));
  return rc;
}

}  // namespace

Command RegisterSeal(CLI::App& app) {
  auto f = std::make_shared<SealFlags>();
  CLI::App* sub = app.add_subcommand(
      "seal",
      "Seal every segment not sealed yet, the active one included (a new empty segment takes\n"
      "its place): rewrite it as zstd blocks clustered by session (tool calls apart, by tool;\n"
      "errors apart), with an index. Returns once they are durable. Writers also seal in the\n"
      "background whenever a segment rolls, with the default sizes. A damaged segment is\n"
      "left unsealed (readers skip only its damaged records) and reported; the others are\n"
      "sealed; the exit status is then 1.");
  AddLogOption(sub, &f->dir);
  const SealOptions defaults;
  sub->add_option("--block-size", f->block_size,
                  absl::StrCat("Raw bytes per zstd block of the main region (default ",
                               defaults.block_size, "; see bench/RESULTS.md)"))
      ->type_name("BYTES")
      ->check(CLI::Range(4096, 16 << 20));
  sub->add_option("--tool-call-block-size", f->tool_call_block_size,
                  absl::StrCat("Raw bytes per zstd block of the tool-call region (default ",
                               defaults.tool_call_block_size, ")"))
      ->type_name("BYTES")
      ->check(CLI::Range(1024, 16 << 20));
  sub->add_option("--dictionary-size", f->dictionary_size,
                  absl::StrCat("Size of the dictionary trained if the log has none yet (0: none; "
                               "default ",
                               defaults.dictionary_size, ")"))
      ->type_name("BYTES")
      ->check(CLI::Range(int64_t{0}, int64_t{16} << 20));
  sub->add_option("--level", f->level, "zstd level (default 3)")
      ->type_name("N")
      ->check(CLI::Range(-7, 22));
  return {sub, [f] { return RunSeal(*f); }};
}

Command RegisterReindex(CLI::App& app) {
  auto f = std::make_shared<SealFlags>();
  CLI::App* sub = app.add_subcommand(
      "reindex",
      "Rebuild the index file of every sealed segment from the segment itself (after damage;\n"
      "readers already rebuild a damaged index in memory, with a warning from verify).");
  AddLogOption(sub, &f->dir);
  return {sub, [f] { return RunReindex(*f); }};
}

}  // namespace tracelog::cli
