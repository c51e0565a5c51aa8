// POSIX implementation of the file-system seam: pwrite/fdatasync/fallocate,
// shared mmap, flock. Files are created 0600 and directories 0700 because
// traces hold secrets.

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <dirent.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/io/errno_status.h"
#include "engine/io/file_system.h"

namespace tracelog {
namespace {

// An error of a call on `path`, named by `op`.
absl::Status PosixError(int err, absl::string_view op, absl::string_view path) {
  return ErrnoStatus(err, op, path);
}

class PosixMapping final : public Mapping {
 public:
  PosixMapping(char* data, uint64_t size) : data_(data), size_(size) {}
  ~PosixMapping() override {
    if (size_ > 0) munmap(data_, size_);
  }
  char* data() const override { return data_; }
  uint64_t size() const override { return size_; }
  void PrefaultForWrite(uint64_t offset, uint64_t len) override {
#ifdef MADV_POPULATE_WRITE
    Advise(offset, len, MADV_POPULATE_WRITE);
#else
    (void)offset;
    (void)len;
#endif
  }
  void ReleaseResident(uint64_t offset, uint64_t len) override {
    // Shared file mappings only: the pages (dirty ones too) stay in the
    // page cache, only this mapping's page tables go.
    Advise(offset, len, MADV_DONTNEED);
  }
  void PrefaultForRead(uint64_t offset, uint64_t len) override {
#ifdef MADV_POPULATE_READ
    Advise(offset, len, MADV_POPULATE_READ);
#else
    (void)offset;
    (void)len;
#endif
  }

 private:
  void Advise(uint64_t offset, uint64_t len, int advice) {
    if (offset >= size_) return;
    if (len > size_ - offset) len = size_ - offset;
    const uint64_t page = 4096;
    const uint64_t begin = offset & ~(page - 1);
    const uint64_t end = offset + len;
    if (end > begin) madvise(data_ + begin, end - begin, advice);
  }

  char* const data_;
  const uint64_t size_;
};

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }

  const std::string& path() const override { return path_; }

  absl::StatusOr<uint64_t> Size() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return PosixError(errno, "fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status Allocate(uint64_t size) override {
    // posix_fallocate returns the error instead of setting errno.
    int err = posix_fallocate(fd_, 0, static_cast<off_t>(size));
    if (err != 0) return PosixError(err, "fallocate", path_);
    return absl::OkStatus();
  }

  absl::Status Write(uint64_t offset, absl::string_view data) override {
    while (!data.empty()) {
      ssize_t n = pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError(errno, absl::StrCat("write at offset ", offset, " of"), path_);
      }
      data.remove_prefix(n);
      offset += n;
    }
    return absl::OkStatus();
  }

  absl::Status Read(uint64_t offset, uint64_t n, std::string* out) override {
    out->resize(n);
    uint64_t got = 0;
    while (got < n) {
      ssize_t r = pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError(errno, absl::StrCat("read at offset ", offset + got, " of"), path_);
      }
      if (r == 0) break;
      got += r;
    }
    out->resize(got);
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (fdatasync(fd_) != 0) return PosixError(errno, "fdatasync", path_);
    return absl::OkStatus();
  }

  absl::Status ZeroRange(uint64_t offset, uint64_t len) override {
    if (len == 0) return absl::OkStatus();
    if (fallocate(fd_, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) == 0) {
      return absl::OkStatus();
    }
    if (errno != EOPNOTSUPP) {
      return PosixError(errno, absl::StrCat("zero range at offset ", offset, " of"), path_);
    }
    static const std::string kZeros(1 << 16, '\0');
    while (len > 0) {
      const uint64_t n = len < kZeros.size() ? len : kZeros.size();
      if (auto s = Write(offset, absl::string_view(kZeros.data(), n)); !s.ok()) return s;
      offset += n;
      len -= n;
    }
    return absl::OkStatus();
  }

  void DropCache() override { posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED); }

  absl::Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return PosixError(errno, "truncate", path_);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<uint64_t, uint64_t>> Identity() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return PosixError(errno, "fstat", path_);
    return std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
  }

  absl::StatusOr<std::unique_ptr<Mapping>> Map(uint64_t size, bool writable) override {
    if (size == 0) return std::unique_ptr<Mapping>(new PosixMapping(nullptr, 0));
    void* p = mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) return PosixError(errno, "mmap", path_);
    return std::unique_ptr<Mapping>(new PosixMapping(static_cast<char*>(p), size));
  }

 private:
  const std::string path_;
  const int fd_;
};

// Reads a descriptor front to back; closes it only if it owns it.
class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd, bool owned)
      : path_(std::move(path)), fd_(fd), owned_(owned) {}
  ~PosixSequentialFile() override {
    if (owned_) ::close(fd_);
  }
  const std::string& path() const override { return path_; }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    while (true) {
      const ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return PosixError(errno, "read", path_);
    }
  }
  absl::Status Seek(uint64_t offset) override {
    if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
      return PosixError(errno, "seek", path_);
    }
    return absl::OkStatus();
  }
  void WillNeed() override { ::posix_fadvise(fd_, 0, 0, POSIX_FADV_WILLNEED); }

 private:
  const std::string path_;
  const int fd_;
  const bool owned_;
};

// A directory held by its descriptor; names below it are opened with
// openat and O_NOFOLLOW (file_system.h).
class PosixDirectory final : public Directory {
 public:
  PosixDirectory(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixDirectory() override { ::close(fd_); }

  const std::string& path() const override { return path_; }

  absl::StatusOr<std::vector<std::string>> List() override {
    // A descriptor of its own (fdopendir takes it over; a dup would share
    // the offset).
    const int own = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (own < 0) return PosixError(errno, "cannot read the directory", path_);
    DIR* d = ::fdopendir(own);
    if (d == nullptr) {
      const int err = errno;
      ::close(own);
      return PosixError(err, "cannot read the directory", path_);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
        names.emplace_back(e->d_name);
      }
    }
    ::closedir(d);
    return names;
  }

  absl::StatusOr<EntryInfo> Stat(const std::string& name) override {
    struct stat st;
    if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError(errno, "stat", Sub(name));
    }
    EntryInfo info;
    if (S_ISREG(st.st_mode)) {
      info.kind = EntryInfo::Kind::kFile;
      info.size = static_cast<uint64_t>(st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
      info.kind = EntryInfo::Kind::kDirectory;
    } else if (S_ISLNK(st.st_mode)) {
      info.kind = EntryInfo::Kind::kSymlink;
    }
    return info;
  }

  absl::StatusOr<std::unique_ptr<Directory>> OpenDir(const std::string& name,
                                                     bool create) override {
    if (create && ::mkdirat(fd_, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return PosixError(errno, "cannot create the directory", Sub(name));
    }
    const int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return absl::FailedPreconditionError(
            absl::StrCat(Sub(name), ": a symbolic link or not a directory: not followed"));
      }
      return PosixError(errno, "cannot open the directory", Sub(name));
    }
    return std::unique_ptr<Directory>(new PosixDirectory(Sub(name), fd));
  }

  absl::StatusOr<std::unique_ptr<SequentialFile>> OpenRead(const std::string& name) override {
    // O_NONBLOCK: a FIFO put at the name is not waited on (and refused below).
    const int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP) {
        return absl::FailedPreconditionError(
            absl::StrCat(Sub(name), ": a symbolic link: not followed"));
      }
      return PosixError(errno, "cannot open", Sub(name));
    }
    std::unique_ptr<SequentialFile> f(new PosixSequentialFile(Sub(name), fd, true));
    struct stat st;
    if (::fstat(fd, &st) != 0) return PosixError(errno, "stat", Sub(name));
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(Sub(name), ": not a regular file (a FIFO, device or directory)"));
    }
    return f;
  }

  absl::StatusOr<std::unique_ptr<File>> Create(const std::string& name) override {
    const int fd =
        ::openat(fd_, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError(errno, "cannot create", Sub(name));
    return std::unique_ptr<File>(new PosixFile(Sub(name), fd));
  }

  absl::StatusOr<std::unique_ptr<File>> OpenWrite(const std::string& name) override {
    const int fd = ::openat(fd_, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return PosixError(errno, "cannot open", Sub(name));
    return std::unique_ptr<File>(new PosixFile(Sub(name), fd));
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::renameat(fd_, from.c_str(), fd_, to.c_str()) != 0) {
      return PosixError(errno, absl::StrCat("rename ", Sub(from), " to"), Sub(to));
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& name) override {
    if (::unlinkat(fd_, name.c_str(), 0) != 0) return PosixError(errno, "unlink", Sub(name));
    return absl::OkStatus();
  }

 private:
  std::string Sub(const std::string& name) const { return JoinPath(path_, name); }

  const std::string path_;
  const int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing releases the flock

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreateExclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
      case OpenMode::kCreateOrOpen: flags |= O_RDWR | O_CREAT; break;
    }
    int fd;
    do {
      fd = ::open(path.c_str(), flags, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return PosixError(errno, "open", path);
    return std::unique_ptr<File>(new PosixFile(path, fd));
  }

  absl::Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0700) == 0) return absl::OkStatus();
    if (errno == EEXIST) {
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
    }
    return PosixError(errno, "mkdir", path);
  }

  absl::Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(errno, "open directory", path);
    int rc = fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError(err, "fsync directory", path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return PosixError(errno, "opendir", path);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    closedir(d);
    return names;
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError(errno, absl::StrCat("rename ", from, " to"), to);
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError(errno, "unlink", path);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return PosixError(errno, "stat", path);
  }

  bool AllocatesUnwritten(const std::string& dir) override {
    // posix_fallocate makes unwritten extents on these two; on tmpfs there
    // is nothing to convert, and on copy-on-write file systems (btrfs)
    // zeros written ahead would only be written again elsewhere.
    constexpr decltype(statfs::f_type) kExt4 = 0xEF53, kXfs = 0x58465342;
    struct statfs st;
    if (::statfs(dir.c_str(), &st) != 0) return false;
    return st.f_type == kExt4 || st.f_type == kXfs;
  }

  std::string BootId() override {
    static const std::string id = [] {
      std::string out;
      int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return out;
      char buf[64];
      ssize_t n = ::read(fd, buf, sizeof(buf));
      ::close(fd);
      if (n > 0) out.assign(buf, n);
      return out;
    }();
    return id;
  }

  absl::StatusOr<std::unique_ptr<Directory>> OpenDirectory(const std::string& path,
                                                           bool create) override {
    if (create && ::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return PosixError(errno, "cannot create the directory", path);
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOTDIR) return absl::InvalidArgumentError(absl::StrCat(path, ": not a directory"));
      return PosixError(errno, "cannot open the directory", path);
    }
    return std::unique_ptr<Directory>(new PosixDirectory(path, fd));
  }

  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return PosixError(errno, "open lock file", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " is locked: another process has this log open for writing"));
      }
      return PosixError(err, "flock", path);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

FileSystem* DefaultFileSystem() {
  static PosixFileSystem* fs = new PosixFileSystem();
  return fs;
}

std::unique_ptr<SequentialFile> DescriptorFile(int fd, std::string what) {
  return std::unique_ptr<SequentialFile>(new PosixSequentialFile(std::move(what), fd, false));
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

}  // namespace tracelog
