#include "engine/io/atomic_file.h"

namespace tracelog {

absl::Status WriteFileAtomically(FileSystem* fs, const std::string& dir, const std::string& path,
                                 absl::string_view contents, bool sync_dir) {
  const std::string tmp = path + ".tmp";
  if (auto e = fs->Exists(tmp); e.ok() && *e) fs->Remove(tmp).IgnoreError();
  {
    auto file = fs->Open(tmp, OpenMode::kCreateExclusive);
    if (!file.ok()) return file.status();
    absl::Status s = (*file)->Write(0, contents);
    if (s.ok()) s = (*file)->Sync();
    if (!s.ok()) {
      file->reset();
      fs->Remove(tmp).IgnoreError();  // never leave a partial file behind
      return s;
    }
  }
  if (auto s = fs->Rename(tmp, path); !s.ok()) return s;
  return sync_dir ? fs->SyncDir(dir) : absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(FileSystem* fs, const std::string& path) {
  auto file = fs->Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string out;
  if (auto s = (*file)->Read(0, *size, &out); !s.ok()) return s;
  return out;
}

}  // namespace tracelog
