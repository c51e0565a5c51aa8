#include "engine/log/checkpoint_file.h"

namespace tracelog {

CheckpointState ReadCheckpointState(FileSystem* fs, const std::string& dir, uint64_t boot_hash) {
  CheckpointState st;
  auto file = fs->Open(JoinPath(dir, kCheckpointFileName), OpenMode::kRead);
  std::string buf;
  if (!file.ok() || !(*file)->Read(0, kCheckpointFileSize, &buf).ok()) return st;
  auto slot = [&](size_t offset) { return absl::string_view(buf).substr(offset); };
  Checkpoint cp;
  if (buf.size() >= kCheckpointSize && DecodeCheckpoint(slot(0), &cp).ok()) st.durable = cp;
  if (buf.size() >= 2 * kCheckpointSize && DecodeCheckpoint(slot(kCheckpointSize), &cp).ok()) {
    st.volatile_slot = cp;
    st.same_boot = boot_hash != 0 && cp.boot_hash == boot_hash;
  }
  for (size_t offset : kLeaseSlotOffset) {
    SequenceLease l;
    if (buf.size() < offset + kCheckpointSize || !DecodeLease(slot(offset), &l).ok()) continue;
    if (!st.lease || l.generation > st.lease->generation) st.lease = l;
  }
  return st;
}

absl::StatusOr<std::unique_ptr<CheckpointFile>> CheckpointFile::Open(FileSystem* fs,
                                                                     const std::string& dir) {
  auto file = fs->Open(JoinPath(dir, kCheckpointFileName), OpenMode::kCreateOrOpen);
  if (!file.ok()) return file.status();
  return std::unique_ptr<CheckpointFile>(new CheckpointFile(std::move(*file)));
}

absl::Status CheckpointFile::Write(const Checkpoint& cp, bool durable) {
  char buf[kCheckpointSize];
  EncodeCheckpoint(cp, buf);
  return file_->Write(durable ? 0 : kCheckpointSize, absl::string_view(buf, sizeof(buf)));
}

absl::Status CheckpointFile::WriteLease(uint64_t lease, uint64_t* generation) {
  SequenceLease l;
  l.lease = lease;
  l.generation = *generation + 1;
  char buf[kCheckpointSize];
  EncodeLease(l, buf);
  // The other slot keeps the previous lease intact if this write tears.
  if (auto s = file_->Write(kLeaseSlotOffset[l.generation % 2], absl::string_view(buf, sizeof(buf)));
      !s.ok()) {
    return s;
  }
  if (auto s = file_->Sync(); !s.ok()) return s;
  *generation = l.generation;
  return absl::OkStatus();
}

}  // namespace tracelog
