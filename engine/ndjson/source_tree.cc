#include "engine/ndjson/source_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/io/errno_status.h"
#include "engine/io/file_system.h"

namespace tracelog {

namespace {

// How directories and files of the tree are opened (source_tree.h).
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kFileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

absl::Status NotFollowed(const std::string& path) {
  const int e = errno;
  if (e == ELOOP || e == ENOTDIR) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": a symbolic link or not a directory where the tree had a directory when it was "
        "read: not followed"));
  }
  errno = e;
  return PosixError("cannot open the directory", path);
}

// The entries of the directory `fd` (`path` in messages) but "." and "..",
// in byte order (imports are deterministic).
absl::StatusOr<std::vector<std::string>> SortedNames(int fd, const std::string& path) {
  // A descriptor of its own for the listing (fdopendir takes it over, and
  // a dup would share the offset).
  const int own = ::openat(fd, ".", kDirFlags);
  if (own < 0) return PosixError("cannot read the directory", path);
  DIR* d = ::fdopendir(own);
  if (d == nullptr) {
    ::close(own);
    return PosixError("cannot read the directory", path);
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The directory `name` of the directory `parent` (`path` in messages), not
// following a link.
absl::StatusOr<UniqueFd> OpenSubdir(int parent, const std::string& name, const std::string& path) {
  UniqueFd fd(::openat(parent, name.c_str(), kDirFlags));
  if (fd.get() < 0) return NotFollowed(path);
  return fd;
}

// "a/b" below "p", or "b" below "".
std::string Below(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, "/", name);
}

// The regular files under the directory `dir` (`below` from the root, whose
// path is `src`), recursively, with paths relative to it after
// `rel_prefix`. Symbolic links and special files are not followed: they
// are noted.
absl::Status ListFiles(int dir, const std::string& src, const std::string& below,
                       const std::string& rel_prefix, std::vector<SourceFile>* out,
                       std::vector<std::string>* problems) {
  auto names = SortedNames(dir, JoinPath(src, below));
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    const std::string at = Below(below, n);
    const std::string path = JoinPath(src, at);
    struct stat st;
    if (::fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return PosixError("stat", path);
    const std::string rel = Below(rel_prefix, n);
    if (S_ISDIR(st.st_mode)) {
      auto sub = OpenSubdir(dir, n, path);
      if (!sub.ok()) return sub.status();
      if (auto s = ListFiles(sub->get(), src, at, rel, out, problems); !s.ok()) return s;
    } else if (S_ISREG(st.st_mode)) {
      out->push_back(SourceFile{rel, at, path, static_cast<uint64_t>(st.st_size)});
    } else {
      problems->push_back(absl::StrCat(path, ": not a regular file or directory (",
                                       S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file",
                                       "): not imported"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SourceTree> WalkSourceTree(const std::string& src,
                                          std::vector<std::string>* problems) {
  SourceTree tree;
  tree.root = UniqueFd(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (tree.root.get() < 0) {
    if (errno == ENOTDIR) return absl::InvalidArgumentError(absl::StrCat(src, ": not a directory"));
    return PosixError("cannot import", src);
  }
  const int root = tree.root.get();
  auto names = SortedNames(root, src);
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    const std::string path = JoinPath(src, n);
    struct stat es, ms;
    if (::fstatat(root, n.c_str(), &es, AT_SYMLINK_NOFOLLOW) != 0) return PosixError("stat", path);
    if (S_ISDIR(es.st_mode)) {
      auto sub = OpenSubdir(root, n, path);
      if (!sub.ok()) return sub.status();
      const bool session = ::fstatat(sub->get(), "meta.json", &ms, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISREG(ms.st_mode);
      if (session) {
        SourceSession s;
        s.name = n;
        if (auto st = ListFiles(sub->get(), src, n, "", &s.files, problems); !st.ok()) return st;
        tree.sessions.push_back(std::move(s));
      } else if (auto st = ListFiles(sub->get(), src, n, n, &tree.root_files, problems);
                 !st.ok()) {
        return st;
      }
    } else if (S_ISREG(es.st_mode)) {
      tree.root_files.push_back(SourceFile{n, n, path, static_cast<uint64_t>(es.st_size)});
    } else {
      problems->push_back(absl::StrCat(path, ": not a regular file or directory: not imported"));
    }
  }
  for (const SourceSession& s : tree.sessions) {
    for (const SourceFile& f : s.files) {
      ++tree.files;
      tree.bytes += f.size;
    }
  }
  for (const SourceFile& f : tree.root_files) {
    ++tree.files;
    tree.bytes += f.size;
  }
  return tree;
}

FileQueue::FileQueue(int root, std::string src, std::vector<const SourceFile*> order)
    : root_(root), src_(std::move(src)), order_(std::move(order)) {}

absl::StatusOr<UniqueFd> FileQueue::Next() {
  if (taken_ >= order_.size()) return absl::InternalError("import: read past its file list");
  const SourceFile& f = *order_[taken_];
  UniqueFd fd;
  if (!ahead_.empty() && ahead_.front().index == taken_) {
    fd = std::move(ahead_.front().fd);
    ahead_bytes_ -= f.size;
    ahead_.pop_front();
  }
  ++taken_;
  next_ = std::max(next_, taken_);
  if (fd.get() < 0) {
    auto opened = Open(f);
    if (!opened.ok()) return opened.status();
    fd = std::move(*opened);
  }
  while (next_ < order_.size() && ahead_.size() < kAheadFiles && ahead_bytes_ < kAheadBytes) {
    const SourceFile& g = *order_[next_];
    // One that cannot be opened now is opened again when its turn comes
    // (and its error reported then).
    if (auto h = Open(g); h.ok()) {
      ::posix_fadvise(h->get(), 0, 0, POSIX_FADV_WILLNEED);
      ahead_bytes_ += g.size;
      ahead_.push_back(Ahead{next_, std::move(*h)});
    }
    ++next_;
  }
  return fd;
}

absl::StatusOr<UniqueFd> FileQueue::Open(const SourceFile& f) {
  const size_t slash = f.below.rfind('/');
  const std::string parent = slash == std::string::npos ? "" : f.below.substr(0, slash);
  const std::string name = slash == std::string::npos ? f.below : f.below.substr(slash + 1);
  auto dir = Dir(parent);
  if (!dir.ok()) return dir.status();
  UniqueFd fd(::openat(*dir, name.c_str(), kFileFlags));
  if (fd.get() < 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(absl::StrCat(
          f.path, ": a symbolic link where the tree had a regular file when it was read: not "
          "followed"));
    }
    return PosixError("cannot open", f.path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return PosixError("stat", f.path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        f.path, ": not a regular file (a FIFO, device or directory where the tree had a regular "
        "file when it was read): not read"));
  }
  return fd;
}

absl::StatusOr<int> FileQueue::Dir(const std::string& parent) {
  if (parent.empty()) return root_;
  if (dir_fd_.get() >= 0 && dir_ == parent) return dir_fd_.get();
  dir_fd_ = UniqueFd();
  UniqueFd cur;
  size_t begin = 0;
  while (begin <= parent.size()) {
    size_t end = parent.find('/', begin);
    if (end == std::string::npos) end = parent.size();
    const std::string part = parent.substr(begin, end - begin);
    auto next = OpenSubdir(cur.get() >= 0 ? cur.get() : root_, part,
                           JoinPath(src_, parent.substr(0, end)));
    if (!next.ok()) return next.status();
    cur = std::move(*next);
    begin = end + 1;
  }
  dir_ = parent;
  dir_fd_ = std::move(cur);
  return dir_fd_.get();
}

absl::Status PosixError(const std::string& what, const std::string& path) {
  return ErrnoStatus(errno, what, path);
}

}  // namespace tracelog
