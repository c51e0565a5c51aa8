#include "engine/ndjson/source_tree.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tracelog {

namespace {

using Kind = EntryInfo::Kind;

// A directory the walk listed that is a link or no directory now.
absl::Status NotFollowed(const absl::Status& s, const std::string& path) {
  if (!absl::IsFailedPrecondition(s)) return s;
  return absl::FailedPreconditionError(absl::StrCat(
      path, ": a symbolic link or not a directory where the tree had a directory when it was "
      "read: not followed"));
}

// The entries of `dir` in byte order (imports are deterministic).
absl::StatusOr<std::vector<std::string>> SortedNames(Directory* dir) {
  auto names = dir->List();
  if (!names.ok()) return names.status();
  std::sort(names->begin(), names->end());
  return names;
}

// The directory `name` of `parent` (`path` in messages), not following a
// link.
absl::StatusOr<std::unique_ptr<Directory>> OpenSubdir(Directory* parent, const std::string& name,
                                                      const std::string& path) {
  auto d = parent->OpenDir(name, /*create=*/false);
  if (!d.ok()) return NotFollowed(d.status(), path);
  return d;
}

// "a/b" below "p", or "b" below "".
std::string Below(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, "/", name);
}

// The regular files under `dir` (`below` from the root, whose path is
// `src`), recursively, with paths relative to it after `rel_prefix`.
// Symbolic links and special files are not followed: they are noted.
absl::Status ListFiles(Directory* dir, const std::string& src, const std::string& below,
                       const std::string& rel_prefix, std::vector<SourceFile>* out,
                       std::vector<std::string>* problems) {
  auto names = SortedNames(dir);
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    const std::string at = Below(below, n);
    const std::string path = JoinPath(src, at);
    auto st = dir->Stat(n);
    if (!st.ok()) return st.status();
    const std::string rel = Below(rel_prefix, n);
    if (st->kind == Kind::kDirectory) {
      auto sub = OpenSubdir(dir, n, path);
      if (!sub.ok()) return sub.status();
      if (auto s = ListFiles(sub->get(), src, at, rel, out, problems); !s.ok()) return s;
    } else if (st->kind == Kind::kFile) {
      out->push_back(SourceFile{rel, at, path, st->size});
    } else {
      problems->push_back(absl::StrCat(path, ": not a regular file or directory (",
                                       st->kind == Kind::kSymlink ? "a symbolic link"
                                                                  : "a special file",
                                       "): not imported"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SourceTree> WalkSourceTree(FileSystem* fs, const std::string& src,
                                          std::vector<std::string>* problems) {
  SourceTree tree;
  auto root = fs->OpenDirectory(src, /*create=*/false);
  if (!root.ok()) return root.status();
  tree.root = std::move(*root);
  Directory* const top = tree.root.get();
  auto names = SortedNames(top);
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    const std::string path = JoinPath(src, n);
    auto es = top->Stat(n);
    if (!es.ok()) return es.status();
    if (es->kind == Kind::kDirectory) {
      auto sub = OpenSubdir(top, n, path);
      if (!sub.ok()) return sub.status();
      auto meta = (*sub)->Stat("meta.json");
      const bool session = meta.ok() && meta->kind == Kind::kFile;
      if (session) {
        SourceSession s;
        s.name = n;
        if (auto st = ListFiles(sub->get(), src, n, "", &s.files, problems); !st.ok()) return st;
        tree.sessions.push_back(std::move(s));
      } else if (auto st = ListFiles(sub->get(), src, n, n, &tree.root_files, problems);
                 !st.ok()) {
        return st;
      }
    } else if (es->kind == Kind::kFile) {
      tree.root_files.push_back(SourceFile{n, n, path, es->size});
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

FileQueue::FileQueue(Directory* root, std::vector<const SourceFile*> order)
    : root_(root), order_(std::move(order)) {}

absl::StatusOr<std::unique_ptr<SequentialFile>> FileQueue::Next() {
  if (taken_ >= order_.size()) return absl::InternalError("import: read past its file list");
  const SourceFile& f = *order_[taken_];
  std::unique_ptr<SequentialFile> file;
  if (!ahead_.empty() && ahead_.front().index == taken_) {
    file = std::move(ahead_.front().file);
    ahead_bytes_ -= f.size;
    ahead_.pop_front();
  }
  ++taken_;
  next_ = std::max(next_, taken_);
  if (file == nullptr) {
    auto opened = Open(f);
    if (!opened.ok()) return opened.status();
    file = std::move(*opened);
  }
  while (next_ < order_.size() && ahead_.size() < kAheadFiles && ahead_bytes_ < kAheadBytes) {
    const SourceFile& g = *order_[next_];
    // One that cannot be opened now is opened again when its turn comes
    // (and its error reported then).
    if (auto h = Open(g); h.ok()) {
      (*h)->WillNeed();
      ahead_bytes_ += g.size;
      ahead_.push_back(Ahead{next_, std::move(*h)});
    }
    ++next_;
  }
  return file;
}

absl::StatusOr<std::unique_ptr<SequentialFile>> FileQueue::Open(const SourceFile& f) {
  const size_t slash = f.below.rfind('/');
  const std::string parent = slash == std::string::npos ? "" : f.below.substr(0, slash);
  const std::string name = slash == std::string::npos ? f.below : f.below.substr(slash + 1);
  auto dir = Dir(parent);
  if (!dir.ok()) return dir.status();
  auto file = (*dir)->OpenRead(name);
  if (file.ok()) return file;
  if (!absl::IsFailedPrecondition(file.status())) return file.status();
  const auto what = (*dir)->Stat(name);
  if (what.ok() && what->kind == Kind::kSymlink) {
    return absl::FailedPreconditionError(absl::StrCat(
        f.path, ": a symbolic link where the tree had a regular file when it was read: not "
        "followed"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      f.path, ": not a regular file (a FIFO, device or directory where the tree had a regular "
      "file when it was read): not read"));
}

absl::StatusOr<Directory*> FileQueue::Dir(const std::string& parent) {
  if (parent.empty()) return root_;
  if (dir_handle_ != nullptr && dir_ == parent) return dir_handle_.get();
  dir_handle_.reset();
  std::unique_ptr<Directory> cur;
  size_t begin = 0;
  while (begin <= parent.size()) {
    size_t end = parent.find('/', begin);
    if (end == std::string::npos) end = parent.size();
    const std::string part = parent.substr(begin, end - begin);
    auto next = OpenSubdir(cur != nullptr ? cur.get() : root_, part,
                           JoinPath(root_->path(), parent.substr(0, end)));
    if (!next.ok()) return next.status();
    cur = std::move(*next);
    begin = end + 1;
  }
  dir_ = parent;
  dir_handle_ = std::move(cur);
  return dir_handle_.get();
}

}  // namespace tracelog
