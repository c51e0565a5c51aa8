// POSIX implementation of the file-system seam: pwrite/fdatasync/fallocate,
// shared mmap, flock. Files are created 0600 and directories 0700 because
// traces hold secrets.

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

}  // namespace tracelog
