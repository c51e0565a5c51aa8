// tracelog verify: check every checksum of every segment.

#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct VerifyFlags {
  std::string dir;
};

// The files beside the segments: CHECKPOINT (its slots; a lost slot only
// makes recovery scan more, so a damaged one is a note, not damage), every
// dictionary's content against its id, every attachment pack record.
void VerifyLogFiles(const std::string& dir, const CorruptionReporter& damage,
                    std::vector<std::string>* notes) {
  FileSystem* fs = DefaultFileSystem();
  if (auto cp = ReadWholeFile(fs, JoinPath(dir, kCheckpointFileName)); cp.ok()) {
    const char* names[] = {"durable slot", "volatile slot", "lease slot 2", "lease slot 3"};
    for (size_t slot = 0; slot < 4; ++slot) {
      const size_t at = slot * kCheckpointSize;
      if (cp->size() < at + kCheckpointSize) {
        if (slot < 2) notes->push_back(absl::StrCat("CHECKPOINT has no ", names[slot]));
        continue;
      }
      const absl::string_view bytes = absl::string_view(*cp).substr(at, kCheckpointSize);
      if (bytes.find_first_not_of('\0') == absl::string_view::npos) continue;  // never written
      Checkpoint c;
      SequenceLease l;
      const absl::Status st = slot < 2 ? DecodeCheckpoint(bytes, &c) : DecodeLease(bytes, &l);
      if (!st.ok()) {
        notes->push_back(absl::StrCat(JoinPath(dir, kCheckpointFileName), ": ", names[slot],
                                      " at offset ", at, " is damaged (", st.message(),
                                      "); recovery scans more or skips more numbers"));
      }
    }
  }
  if (auto names = fs->ListDir(dir); names.ok()) {
    for (const std::string& name : *names) {
      if (!ParseDictFileName(name)) continue;
      const std::string path = JoinPath(dir, name);
      auto bytes = ReadWholeFile(fs, path);
      if (!bytes.ok()) {
        damage(Corruption{path, 0, 0, std::string(bytes.status().message())});
        continue;
      }
      uint64_t id = 0;
      absl::string_view dict;
      if (auto st = DecodeDictFile(*bytes, &id, &dict, /*verify_content=*/true); !st.ok()) {
        damage(Corruption{path, 0, bytes->size(), std::string(st.message())});
      } else if (ParseDictFileName(name) != id) {
        damage(Corruption{path, 16, 24, "the id does not match the file name"});
      }
    }
  }
  if (auto store = AttachmentStore::Load(fs, dir, damage); !store.ok()) {
    damage(Corruption{dir, 0, 0, std::string(store.status().message())});
  }
}

int RunVerify(const VerifyFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  uint64_t damaged = 0;
  ReaderOptions ro;
  ro.reporter = [&](const Corruption& c) {
    ++damaged;
    std::printf("DAMAGED %s\n", c.ToString().c_str());
  };
  ro.want_keys = false;
  // The indexes of sealed segments: each must be intact and describe its segment.
  BlockCodec codec;
  for (const SegmentSnapshot& seg : (*log)->SnapshotSegments()) {
    if (seg.sealed == nullptr) continue;
    auto index = seg.sealed->Index(&codec, /*with_sessions=*/false);
    if (!index.ok()) continue;  // the segment's own damage is reported below
    if (!seg.sealed->index_rebuilt().empty()) {
      ++damaged;
      std::printf("DAMAGED %s: %s (queries rebuild it in memory; `tracelog reindex` rewrites it)\n",
                  seg.sealed->index_path().c_str(), seg.sealed->index_rebuilt().c_str());
    }
  }
  std::vector<std::string> notes;
  uint64_t skipped = 0;
  ro.gap_reporter = [&](const GapRecord& g) {
    ++skipped;
    notes.push_back(absl::StrCat("sequences ", g.first, " to ", g.end - 1, " ",
                                 GapReasonName(g.reason)));
  };
  VerifyLogFiles(f.dir, ro.reporter, &notes);
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  uint64_t events = 0, bytes = 0;
  while (reader->Next(&ev)) {
    ++events;
    bytes += ev.event.size();
  }
  const LogStats st = (*log)->Stats();
  std::printf("%s: %llu events (%llu event bytes) in %llu segments checked; %llu damaged range%s;"
              " %llu gap%s\n",
              f.dir.c_str(), static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(st.segments),
              static_cast<unsigned long long>(damaged), damaged == 1 ? "" : "s",
              static_cast<unsigned long long>(skipped), skipped == 1 ? "" : "s");
  if (!(*log)->recovery().truncation_reason.empty()) {
    std::printf("note: the unsynced tail ends in a torn record (%s); a writer's next open cuts it off\n",
                (*log)->recovery().truncation_reason.c_str());
  }
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  return damaged > 0 ? kExitNegative : kExitOk;
}

}  // namespace

Command RegisterVerify(CLI::App& app) {
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* sub = app.add_subcommand(
      "verify",
      "Check every checksum of the log: segment headers, records, sealed blocks and indexes,\n"
      "gap files, the dictionary's content, attachment packs, CHECKPOINT, and that the\n"
      "sequence numbers have no hole that no gap file explains. Lists each damaged range with\n"
      "file and byte offsets; gaps (sequence numbers skipped after a crash, on purpose) are\n"
      "notes. Exit 0 clean, 1 damage found, 2 error. Safe to run while a writer appends (it\n"
      "checks a consistent prefix).");
  AddLogOption(sub, &f->dir);
  return {sub, [f] { return RunVerify(*f); }};
}

}  // namespace tracelog::cli
