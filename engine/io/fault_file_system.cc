#include "engine/io/fault_file_system.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tracelog {

using Node = FaultInjectionFileSystem::Node;
constexpr uint64_t kPage = FaultInjectionFileSystem::kPageSize;

bool Node::Dirty(uint64_t p) const {
  if (p < written.size() && written[p]) return true;
  const uint64_t at = p * kPage;
  if (at >= data.size()) return false;
  const uint64_t n = std::min<uint64_t>(kPage, data.size() - at);
  if (at + n > clean.size()) return true;  // the file grew: new pages are dirty
  return std::memcmp(data.data() + at, clean.data() + at, n) != 0;
}

void Node::MarkWritten(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  const uint64_t last = (offset + len - 1) / kPage;
  if (written.size() <= last) written.resize(last + 1, false);
  for (uint64_t p = offset / kPage; p <= last; ++p) written[p] = true;
}

namespace {

class FaultMapping final : public Mapping {
 public:
  FaultMapping(std::shared_ptr<Node> node, uint64_t size) : node_(std::move(node)), size_(size) {
    std::lock_guard<std::mutex> l(node_->mu);
    ++node_->mappings;
    data_ = node_->data.data();
  }
  ~FaultMapping() override {
    std::lock_guard<std::mutex> l(node_->mu);
    --node_->mappings;
  }
  char* data() const override { return data_; }
  uint64_t size() const override { return size_; }
  void PrefaultForWrite(uint64_t, uint64_t) override {}

 private:
  std::shared_ptr<Node> node_;
  char* data_;
  uint64_t size_;
};

}  // namespace

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::string path, std::shared_ptr<Node> node,
            bool writable)
      : fs_(fs), path_(std::move(path)), node_(std::move(node)), writable_(writable) {}

  const std::string& path() const override { return path_; }

  absl::StatusOr<uint64_t> Size() override {
    std::lock_guard<std::mutex> l(node_->mu);
    return node_->data.size();
  }

  absl::Status Allocate(uint64_t size) override {
    if (!writable_) return absl::PermissionDeniedError(path_ + ": read-only");
    if (auto s = fs_->CheckAllocate(node_.get(), size); !s.ok()) return s;
    std::lock_guard<std::mutex> l(node_->mu);
    if (node_->mappings > 0 && size > node_->data.capacity()) {
      // Growing would move mapped memory; a real mapping does not move.
      return absl::InternalError(path_ + ": test file system cannot grow a mapped file");
    }
    if (size > node_->data.size()) node_->data.resize(size, '\0');
    return absl::OkStatus();
  }

  absl::Status Write(uint64_t offset, absl::string_view data) override {
    if (!writable_) return absl::PermissionDeniedError(path_ + ": read-only");
    std::function<void(const std::string&)> hook;
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      hook = fs_->write_hook_;
    }
    if (hook) hook(path_);
    if (auto s = fs_->TakeFault(&fs_->fail_write_); !s.ok()) return s;
    std::lock_guard<std::mutex> l(node_->mu);
    if (offset + data.size() > node_->data.size()) {
      if (node_->mappings > 0) return absl::InternalError(path_ + ": write past a mapped end");
      node_->data.resize(offset + data.size(), '\0');
    }
    std::memcpy(node_->data.data() + offset, data.data(), data.size());
    node_->MarkWritten(offset, data.size());
    return absl::OkStatus();
  }

  absl::Status Read(uint64_t offset, uint64_t n, std::string* out) override {
    std::lock_guard<std::mutex> l(node_->mu);
    if (offset >= node_->data.size()) {
      out->clear();
      return absl::OkStatus();
    }
    *out = node_->data.substr(offset, n);
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    std::function<void(const std::string&, const absl::Status*)> hook;
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      hook = fs_->sync_hook_;
    }
    if (hook) hook(path_, nullptr);
    absl::Status s = SyncNow();
    if (hook) hook(path_, &s);
    return s;
  }

  absl::Status SyncNow() {
    bool forget = false;
    if (auto s = fs_->TakeSyncFault(&forget); !s.ok()) {
      if (forget) {
        // The kernel marks the dirty pages clean without having written
        // them: the page cache keeps the bytes, the disk never gets them.
        std::lock_guard<std::mutex> l(node_->mu);
        node_->clean = node_->data;
        node_->written.assign(node_->written.size(), false);
      }
      return s;
    }
    {
      std::lock_guard<std::mutex> l(node_->mu);
      Node& n = *node_;
      if (n.synced.size() != n.data.size()) n.synced.resize(n.data.size(), '\0');
      if (n.clean.size() != n.data.size()) n.clean.resize(n.data.size(), '\0');
      // Writes through a mapping do not take the node's lock: a page an
      // appender writes while this loop runs must stay dirty (the kernel
      // write-protects a page for its writeback, and a later write dirties
      // it again). So each page written back is copied once, and that copy
      // is both what the disk gets and what the page cache believes the
      // disk holds; `clean = data` as a whole would mark the pages written
      // meanwhile clean, and no later sync would write them.
      char page[kPage];
      for (uint64_t p = 0; p * kPage < n.data.size(); ++p) {
        if (!n.Dirty(p)) continue;  // clean: on disk already, or forgotten
        const uint64_t at = p * kPage;
        const uint64_t len = std::min<uint64_t>(kPage, n.data.size() - at);
        std::memcpy(page, n.data.data() + at, len);
        std::memcpy(n.synced.data() + at, page, len);
        std::memcpy(n.clean.data() + at, page, len);
      }
      n.written.assign(n.written.size(), false);
    }
    std::lock_guard<std::mutex> fl(fs_->mu_);
    ++fs_->syncs_;
    ++fs_->syncs_by_path_[path_];
    return absl::OkStatus();
  }

  absl::Status ZeroRange(uint64_t offset, uint64_t len) override {
    if (auto s = fs_->TakeFault(&fs_->fail_write_); !s.ok()) return s;
    std::lock_guard<std::mutex> l(node_->mu);
    if (offset < node_->data.size()) {
      len = std::min<uint64_t>(len, node_->data.size() - offset);
      std::memset(node_->data.data() + offset, 0, len);
      node_->MarkWritten(offset, len);
    }
    return absl::OkStatus();
  }

  void DropCache() override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    fs_->dropped_caches_.push_back(path_);
  }

  absl::Status Truncate(uint64_t size) override {
    if (!writable_) return absl::PermissionDeniedError(path_ + ": read-only");
    if (auto s = fs_->TakeFault(&fs_->fail_write_); !s.ok()) return s;
    std::lock_guard<std::mutex> l(node_->mu);
    if (node_->mappings > 0) return absl::InternalError(path_ + ": truncate of a mapped file");
    const uint64_t old = node_->data.size();
    node_->data.resize(size, '\0');
    if (size > old) node_->MarkWritten(old, size - old);
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<uint64_t, uint64_t>> Identity() override {
    return std::make_pair(uint64_t{0}, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(node_.get())));
  }

  absl::StatusOr<std::unique_ptr<Mapping>> Map(uint64_t size, bool writable) override {
    if (writable && !writable_) return absl::PermissionDeniedError(path_ + ": read-only");
    {
      std::lock_guard<std::mutex> l(node_->mu);
      if (size > node_->data.size()) return absl::InvalidArgumentError(path_ + ": map past end");
    }
    return std::unique_ptr<Mapping>(new FaultMapping(node_, size));
  }

 private:
  FaultInjectionFileSystem* fs_;
  std::string path_;
  std::shared_ptr<Node> node_;
  bool writable_;
};

namespace {

// Reads a File front to back.
class FaultSequentialFile final : public SequentialFile {
 public:
  explicit FaultSequentialFile(std::unique_ptr<File> file) : file_(std::move(file)) {}
  const std::string& path() const override { return file_->path(); }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (auto s = file_->Read(offset_, n, &scratch_); !s.ok()) return s;
    std::memcpy(buf, scratch_.data(), scratch_.size());
    offset_ += scratch_.size();
    return scratch_.size();
  }
  absl::Status Seek(uint64_t offset) override {
    offset_ = offset;
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<File> file_;
  uint64_t offset_ = 0;
  std::string scratch_;
};

}  // namespace

// A directory of the in-memory tree: names joined to its path.
class FaultDirectory final : public Directory {
 public:
  FaultDirectory(FaultInjectionFileSystem* fs, std::string path)
      : fs_(fs), path_(std::move(path)) {}
  const std::string& path() const override { return path_; }

  absl::StatusOr<std::vector<std::string>> List() override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    std::vector<std::string> out;
    for (const auto& [name, node] : fs_->files_) {
      if (FaultInjectionFileSystem::Parent(name) == path_) out.push_back(name.substr(path_.size() + 1));
    }
    for (const std::string& d : fs_->dirs_) {
      if (FaultInjectionFileSystem::Parent(d) == path_) out.push_back(d.substr(path_.size() + 1));
    }
    return out;
  }

  absl::StatusOr<EntryInfo> Stat(const std::string& name) override {
    const std::string p = Sub(name);
    std::lock_guard<std::mutex> l(fs_->mu_);
    EntryInfo info;
    if (fs_->dirs_.count(p)) {
      info.kind = EntryInfo::Kind::kDirectory;
      return info;
    }
    auto it = fs_->files_.find(p);
    if (it == fs_->files_.end()) return absl::NotFoundError(p + ": stat: No such file or directory");
    info.kind = EntryInfo::Kind::kFile;
    std::lock_guard<std::mutex> nl(it->second->mu);
    info.size = it->second->data.size();
    return info;
  }

  absl::StatusOr<std::unique_ptr<Directory>> OpenDir(const std::string& name,
                                                     bool create) override {
    const std::string p = Sub(name);
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      if (fs_->files_.count(p)) {
        return absl::FailedPreconditionError(p + ": a symbolic link or not a directory: not followed");
      }
      if (!fs_->dirs_.count(p) && !create) return absl::NotFoundError(p + ": No such directory");
      if (!fs_->dirs_.count(p) && !fs_->ConsumeOpLocked()) {
        return absl::InternalError("injected failure: the disk is gone");
      }
    }
    if (auto s = fs_->CreateDir(p); !s.ok()) return s;
    return std::unique_ptr<Directory>(new FaultDirectory(fs_, p));
  }

  absl::StatusOr<std::unique_ptr<SequentialFile>> OpenRead(const std::string& name) override {
    if (IsDir(name)) return absl::FailedPreconditionError(Sub(name) + ": not a regular file");
    auto f = fs_->Open(Sub(name), OpenMode::kRead);
    if (!f.ok()) return f.status();
    return std::unique_ptr<SequentialFile>(new FaultSequentialFile(std::move(*f)));
  }

  absl::StatusOr<std::unique_ptr<File>> Create(const std::string& name) override {
    if (IsDir(name)) return absl::AlreadyExistsError(Sub(name) + ": cannot create: File exists");
    return fs_->Open(Sub(name), OpenMode::kCreateExclusive);
  }

  absl::StatusOr<std::unique_ptr<File>> OpenWrite(const std::string& name) override {
    return fs_->Open(Sub(name), OpenMode::kReadWrite);
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    return fs_->Rename(Sub(from), Sub(to));
  }

  absl::Status Remove(const std::string& name) override { return fs_->Remove(Sub(name)); }

 private:
  std::string Sub(const std::string& name) const { return JoinPath(path_, name); }
  bool IsDir(const std::string& name) {
    std::lock_guard<std::mutex> l(fs_->mu_);
    return fs_->dirs_.count(Sub(name)) > 0;
  }

  FaultInjectionFileSystem* const fs_;
  const std::string path_;
};

absl::StatusOr<std::unique_ptr<Directory>> FaultInjectionFileSystem::OpenDirectory(
    const std::string& path, bool create) {
  bool exists;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (files_.count(path)) return absl::InvalidArgumentError(path + ": not a directory");
    exists = dirs_.count(path) > 0;
  }
  if (!exists) {
    if (!create) return absl::NotFoundError(path + ": cannot open the directory: No such directory");
    if (auto s = CreateDir(path); !s.ok()) return s;
  }
  return std::unique_ptr<Directory>(new FaultDirectory(this, path));
}

namespace {
class FaultLock final : public FileLock {
 public:
  FaultLock(std::mutex* mu, std::set<std::string>* locks, std::string path)
      : mu_(mu), locks_(locks), path_(std::move(path)) {}
  ~FaultLock() override {
    std::lock_guard<std::mutex> l(*mu_);
    locks_->erase(path_);
  }

 private:
  std::mutex* mu_;
  std::set<std::string>* locks_;
  std::string path_;
};
}  // namespace

std::string FaultInjectionFileSystem::Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

absl::Status FaultInjectionFileSystem::TakeSyncFault(bool* forget) {
  std::lock_guard<std::mutex> l(mu_);
  *forget = false;
  if (!ConsumeOpLocked()) return absl::InternalError("injected failure: the disk is gone");
  absl::Status s = fail_sync_;
  fail_sync_ = absl::OkStatus();
  *forget = !s.ok() && forget_on_failed_sync_;
  return s;
}

uint64_t FaultInjectionFileSystem::syncs_of(const std::string& suffix) {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t n = 0;
  for (const auto& [path, count] : syncs_by_path_) {
    if (absl::EndsWith(path, suffix)) n += count;
  }
  return n;
}

void FaultInjectionFileSystem::EvictCleanPages() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [name, node] : files_) {
    std::lock_guard<std::mutex> nl(node->mu);
    Node& n = *node;
    for (uint64_t p = 0; p * kPage < n.data.size(); ++p) {
      if (n.Dirty(p)) continue;
      const uint64_t at = p * kPage;
      const uint64_t len = std::min<uint64_t>(kPage, n.data.size() - at);
      for (uint64_t i = at; i < at + len; ++i) {
        n.data[i] = i < n.synced.size() ? n.synced[i] : '\0';
      }
      if (n.clean.size() < at + len) n.clean.resize(at + len, '\0');
      std::memcpy(n.clean.data() + at, n.data.data() + at, len);
    }
  }
}

absl::Status FaultInjectionFileSystem::TakeFault(absl::Status* slot) {
  std::lock_guard<std::mutex> l(mu_);
  if (!ConsumeOpLocked()) return absl::InternalError("injected failure: the disk is gone");
  absl::Status s = *slot;
  *slot = absl::OkStatus();
  return s;
}

void FaultInjectionFileSystem::SetWriteHook(std::function<void(const std::string&)> hook) {
  std::lock_guard<std::mutex> l(mu_);
  write_hook_ = std::move(hook);
}

void FaultInjectionFileSystem::SetSyncHook(
    std::function<void(const std::string&, const absl::Status*)> hook) {
  std::lock_guard<std::mutex> l(mu_);
  sync_hook_ = std::move(hook);
}

std::vector<std::string> FaultInjectionFileSystem::dropped_caches() {
  std::lock_guard<std::mutex> l(mu_);
  return dropped_caches_;
}

void FaultInjectionFileSystem::SetAllFail(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  all_fail_ = on;
  if (!on) ops_left_ = UINT64_MAX;
}

void FaultInjectionFileSystem::FailAfter(uint64_t n) {
  std::lock_guard<std::mutex> l(mu_);
  ops_left_ = n;
}

void FaultInjectionFileSystem::SetSpaceLimit(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  space_limit_ = bytes;
}

uint64_t FaultInjectionFileSystem::used_space() {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t used = 0;
  for (auto& [name, node] : files_) {
    std::lock_guard<std::mutex> nl(node->mu);
    used += node->data.size();
  }
  return used;
}

absl::Status FaultInjectionFileSystem::CheckAllocate(Node* node, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  if (!ConsumeOpLocked()) return absl::InternalError("injected failure: the disk is gone");
  uint64_t used = 0;
  for (auto& [name, n] : files_) {
    if (n.get() == node) continue;
    std::lock_guard<std::mutex> nl(n->mu);
    used += n->data.size();
  }
  if (used + size > space_limit_) {
    return absl::ResourceExhaustedError("fallocate: No space left on device (injected)");
  }
  return absl::OkStatus();
}

std::string FaultInjectionFileSystem::Contents(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return "";
  std::lock_guard<std::mutex> nl(it->second->mu);
  return it->second->data;
}

void FaultInjectionFileSystem::SetContents(const std::string& path, const std::string& data) {
  std::lock_guard<std::mutex> l(mu_);
  auto& node = files_[path];
  if (node == nullptr) node = std::make_shared<Node>();
  durable_[path] = node;
  std::lock_guard<std::mutex> nl(node->mu);
  node->data = data;
  node->synced = data;
  node->clean = data;
  node->written.clear();
}

void FaultInjectionFileSystem::DropUnsyncedData(DropMode mode, uint64_t seed) {
  std::lock_guard<std::mutex> l(mu_);
  std::mt19937_64 rng(seed);
  ++boots_;
  dirs_ = durable_dirs_;
  files_.clear();
  for (auto& [name, node] : durable_) {
    if (dirs_.count(Parent(name))) files_[name] = node;  // its directory survived
  }
  durable_ = files_;
  for (auto& [name, node] : files_) {
    std::lock_guard<std::mutex> nl(node->mu);
    if (node->mappings != 0) std::abort();  // the Log must be gone
    std::string kept = node->synced;
    const std::string& now = node->data;
    if (mode != DropMode::kUnsynced && now.size() >= kept.size()) {
      kept.resize(now.size(), '\0');
      // The unsynced region: where now differs from the synced content.
      size_t first = 0;
      while (first < now.size() && now[first] == kept[first]) ++first;
      if (mode == DropMode::kTornTail && first < now.size()) {
        const size_t last = now.size();
        const size_t keep_to = first + rng() % (last - first + 1);
        std::memcpy(kept.data() + first, now.data() + first, keep_to - first);
      } else if (mode == DropMode::kRandomPages) {
        for (size_t p = first & ~size_t{4095}; p < now.size(); p += 4096) {
          if (rng() % 2) {
            const size_t n = std::min<size_t>(4096, now.size() - p);
            std::memcpy(kept.data() + p, now.data() + p, n);
          }
        }
      }
    }
    node->data = kept;
    node->synced = kept;
    node->clean = kept;
    node->written.clear();
  }
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectionFileSystem::Open(const std::string& path,
                                                                      OpenMode mode) {
  std::lock_guard<std::mutex> l(mu_);
  if (!fail_open_.ok() && absl::EndsWith(path, fail_open_suffix_)) {
    absl::Status s = std::move(fail_open_);
    fail_open_ = absl::OkStatus();
    return s;
  }
  if (!dirs_.count(Parent(path))) return absl::NotFoundError("open " + path + ": no directory");
  auto it = files_.find(path);
  std::shared_ptr<Node> node;
  switch (mode) {
    case OpenMode::kRead:
    case OpenMode::kReadWrite:
      if (it == files_.end()) return absl::NotFoundError("open " + path + ": No such file");
      node = it->second;
      break;
    case OpenMode::kCreateExclusive:
      if (it != files_.end()) return absl::AlreadyExistsError("open " + path + ": File exists");
      [[fallthrough]];
    case OpenMode::kCreateOrOpen:
      if (it == files_.end()) {
        if (!ConsumeOpLocked()) return absl::InternalError("injected failure: the disk is gone");
        node = std::make_shared<Node>();
        files_[path] = node;
      } else {
        node = it->second;
      }
      break;
  }
  return std::unique_ptr<File>(new FaultFile(this, path, node, mode != OpenMode::kRead));
}

absl::Status FaultInjectionFileSystem::CreateDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string parent = Parent(path);
  if (!parent.empty() && !dirs_.count(parent)) {
    return absl::NotFoundError("mkdir " + path + ": No such file or directory");
  }
  dirs_.insert(path);
  // A top-level directory stands for one the test set up: durable at once.
  // Any other is durable once its parent is synced.
  if (parent.empty()) durable_dirs_.insert(path);
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  if (auto s = TakeFault(&fail_sync_); !s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = durable_.begin(); it != durable_.end();) {
    if (Parent(it->first) == path && !files_.count(it->first)) {
      it = durable_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, node] : files_) {
    if (Parent(name) == path) durable_[name] = node;
  }
  for (const std::string& d : dirs_) {
    if (Parent(d) == path) durable_dirs_.insert(d);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& path) {
  std::vector<std::string> out;
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!dirs_.count(path)) return absl::NotFoundError("opendir " + path);
    for (auto& [name, node] : files_) {
      if (Parent(name) == path) out.push_back(name.substr(path.size() + 1));
    }
    hook.swap(after_list_hook_);
  }
  if (hook) hook(path);
  return out;
}

void FaultInjectionFileSystem::SetAfterNextListHook(std::function<void(const std::string&)> hook) {
  std::lock_guard<std::mutex> l(mu_);
  after_list_hook_ = std::move(hook);
}

absl::Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  if (!ConsumeOpLocked()) return absl::InternalError("injected failure: the disk is gone");
  auto it = files_.find(from);
  if (it == files_.end()) return absl::NotFoundError("rename " + from);
  files_[to] = it->second;
  files_.erase(from);
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (!ConsumeOpLocked()) return absl::InternalError("injected failure: the disk is gone");
  if (files_.erase(path) == 0) return absl::NotFoundError("unlink " + path);
  return absl::OkStatus();
}

absl::StatusOr<bool> FaultInjectionFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  return files_.count(path) > 0 || dirs_.count(path) > 0;
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionFileSystem::Lock(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (!locks_.insert(path).second) {
    return absl::FailedPreconditionError(path + " is locked: another process has this log open for writing");
  }
  if (!files_.count(path)) {
    files_[path] = std::make_shared<Node>();
  }
  return std::unique_ptr<FileLock>(new FaultLock(&mu_, &locks_, path));
}

void FaultInjectionFileSystem::MarkDurable(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return;
  std::lock_guard<std::mutex> nl(it->second->mu);
  it->second->synced = it->second->data;
  it->second->clean = it->second->data;
  it->second->written.clear();
}

std::string FaultInjectionFileSystem::BootId() {
  std::lock_guard<std::mutex> l(mu_);
  return absl::StrCat("boot-", boots_);
}

}  // namespace tracelog
