#include "engine/ndjson/importer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/attachment_format.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/format/utf8.h"
#include "engine/io/file_system.h"
#include "engine/io/unique_fd.h"
#include "engine/log/attachments.h"
#include "engine/ndjson/line_reader.h"
#include "engine/query/query.h"
#include "engine/seal/block_codec.h"

namespace tracelog {

namespace {

absl::Status PosixError(const std::string& what, const std::string& path) {
  const int e = errno;
  const std::string msg = absl::StrCat(path, ": ", what, ": ", std::strerror(e));
  return e == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
}

// Offset of the first byte of `s` that is not part of well-formed UTF-8, or
// npos.
size_t FirstInvalidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return i;
    i += n;
  }
  return absl::string_view::npos;
}

struct SourceFile {
  std::string rel;   // relative to the session directory (or the root)
  std::string below;  // relative to the root of the tree: opened one component at a time
  std::string path;   // the root's path joined with `below`, for messages
  uint64_t size = 0;
};

struct SourceSession {
  std::string name;
  std::vector<SourceFile> files;  // events.ndjson among them, if present
};

struct SourceTree {
  UniqueFd root;  // the directory given to the import
  std::vector<SourceSession> sessions;
  std::vector<SourceFile> root_files;
  uint64_t files = 0, bytes = 0;
};

// Every directory of the tree is opened with O_NOFOLLOW | O_DIRECTORY
// relative to its parent's descriptor, and every file relative to its
// directory's, with O_NOFOLLOW | O_NONBLOCK and checked to be a regular
// file before it is read: a directory or file replaced by a symbolic link
// (or a FIFO, a device) after the walk is refused, never followed or waited
// on, so the import reads nothing from outside the tree.
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

// Lists the tree at `src` (the one path followed as given: the operator
// names it) through descriptors, as FileQueue reads it.
absl::StatusOr<SourceTree> Walk(const std::string& src, std::vector<std::string>* problems) {
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

// The files of an import in the order they are read, each opened a little
// ahead of the reader with the kernel asked to read it in
// (POSIX_FADV_WILLNEED): the disk reads the next files while the CPU parses
// this one (an import's input is rarely all in the page cache, and most of
// its files are small, so the kernel's read-ahead within a file does not
// help). Files are opened below the tree's root descriptor as Walk
// describes.
class FileQueue {
 public:
  // `root`: the tree's root directory, `src` its path (for messages).
  FileQueue(int root, std::string src, std::vector<const SourceFile*> order)
      : root_(root), src_(std::move(src)), order_(std::move(order)) {}

  // The next file of the order, opened.
  absl::StatusOr<UniqueFd> Next() {
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

 private:
  static constexpr size_t kAheadFiles = 64;
  static constexpr uint64_t kAheadBytes = 32 << 20;
  struct Ahead {
    size_t index;
    UniqueFd fd;
  };

  // Opens `f` one component at a time; a regular file or an error.
  absl::StatusOr<UniqueFd> Open(const SourceFile& f) {
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

  // The directory `parent` (below the root), opened one component at a
  // time; the last one is kept, as consecutive files mostly share it.
  absl::StatusOr<int> Dir(const std::string& parent) {
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

  const int root_;
  const std::string src_;
  std::vector<const SourceFile*> order_;
  std::deque<Ahead> ahead_;
  size_t taken_ = 0, next_ = 0;
  uint64_t ahead_bytes_ = 0;
  std::string dir_;  // the directory dir_fd_ holds, below the root
  UniqueFd dir_fd_;
};

// Reads `fd` from its current offset to its end in pieces of `buf`'s size,
// calling `fn` with each. `path` names it in errors.
absl::Status ReadPieces(int fd, const std::string& path, std::string* buf,
                        const std::function<absl::Status(absl::string_view)>& fn) {
  while (true) {
    const ssize_t n = ::read(fd, buf->data(), buf->size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError("read", path);
    if (n == 0) return absl::OkStatus();
    if (auto s = fn(absl::string_view(buf->data(), static_cast<size_t>(n))); !s.ok()) return s;
  }
}

absl::Status Rewind(int fd, uint64_t offset, const std::string& path) {
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) return PosixError("seek", path);
  return absl::OkStatus();
}

// "at column N" in an extractor message, as "line L, column C" of `text`.
std::string WhereInText(absl::string_view text, absl::string_view message) {
  const size_t at = message.find("at column ");
  uint64_t column = 0;
  if (at == absl::string_view::npos) return std::string(message);
  absl::string_view digits = message.substr(at + 10);
  digits = digits.substr(0, digits.find_first_not_of("0123456789"));
  if (!absl::SimpleAtoi(digits, &column) || column == 0 || column > text.size() + 1) {
    return std::string(message);
  }
  const absl::string_view before = text.substr(0, column - 1);
  const size_t line = std::count(before.begin(), before.end(), '\n') + 1;
  const size_t nl = before.rfind('\n');
  const size_t col = nl == absl::string_view::npos ? column : column - 1 - nl;
  return absl::StrCat("line ", line, ", column ", col, ": ",
                      absl::StrCat(message.substr(0, at), message.substr(at + 10 + digits.size())));
}

// The events a stream import does not add again: those the log held when
// the import began, by session_id and event_id (ImportNdjsonStream).
// Found through the session index, and only for the sessions the stream
// names that the log held then (its catalog, read once before anything is
// appended): the event ids of such a session are loaded the first time the
// stream names it, with one query per read chunk for all the sessions the
// chunk brings. A new session costs a hash lookup.
class PresentEvents {
 public:
  explicit PresentEvents(Log* log) : engine_(log) {}

  // Reads the catalog. Damage met is noted in *problems: events in a
  // damaged range cannot be seen, and are imported again.
  absl::Status Start(std::vector<std::string>* problems) {
    auto catalog = engine_.Catalog(Reporter(problems));
    if (!catalog.ok()) return catalog.status();
    for (CatalogEntry& e : *catalog) held_.insert(std::move(e.id));
    return absl::OkStatus();
  }

  // Notes the session of an event of the chunk being read.
  void See(absl::string_view session) {
    if (seen_.contains(session)) return;
    seen_.emplace(session);
    if (held_.contains(session)) pending_.emplace_back(session);
  }

  // Loads the event ids of the sessions noted since the last call that the
  // log held.
  absl::Status Load(std::vector<std::string>* problems) {
    if (pending_.empty()) return absl::OkStatus();
    Query q;
    q.sessions = std::move(pending_);
    pending_.clear();
    for (const std::string& session : q.sessions) ids_.try_emplace(session);
    EventKeyExtractor extractor;
    auto n = engine_.Run(
        q,
        [&](uint64_t, absl::string_view event) {
          EventKeys keys;
          if (extractor.Extract(event, &keys, /*validate=*/false).ok() && !keys.event_id.empty()) {
            auto it = ids_.find(keys.session_id);
            if (it != ids_.end()) it->second.emplace(keys.event_id);
          }
          return true;
        },
        nullptr, Reporter(problems));
    return n.status();
  }

  // Whether the log held this event when the import began. An event
  // without an event_id is never recognised.
  bool Contains(absl::string_view session, absl::string_view event_id) const {
    if (event_id.empty()) return false;
    auto it = ids_.find(session);
    return it != ids_.end() && it->second.contains(event_id);
  }

  // No session the log held has been named yet: nothing to skip.
  bool none() const { return ids_.empty(); }
  size_t sessions_seen() const { return seen_.size(); }

 private:
  static CorruptionReporter Reporter(std::vector<std::string>* problems) {
    return [problems](const Corruption& c) {
      problems->push_back(absl::StrCat(c.ToString(),
                                       ": damage met while looking for the events the log already "
                                       "holds (the stream's events that were there are imported "
                                       "again)"));
    };
  }

  QueryEngine engine_;
  absl::flat_hash_set<std::string> held_;  // sessions the log held when the import began
  absl::flat_hash_set<std::string> seen_;  // sessions the stream named so far
  std::vector<std::string> pending_;       // seen, held, ids not loaded yet
  // Event ids of the held sessions the stream named.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> ids_;
};

class Importer {
 public:
  Importer(Log* log, const ImportOptions& options) : log_(log), options_(options) {}

  absl::StatusOr<ImportReport> Directory(uint64_t first_sequence, const std::string& src) {
    auto existing = AttachmentStore::Load(log_->file_system(), log_->dir());
    if (!existing.ok()) return existing.status();
    existing_ = std::move(*existing);
    auto pack = AttachmentPackWriter::Create(log_->file_system(), log_->dir(), first_sequence);
    if (!pack.ok()) return pack.status();
    pack_ = std::move(*pack);
    auto tree = Walk(src, &report_.problems);
    if (!tree.ok()) return tree.status();
    if (options_.after_walk) options_.after_walk();
    progress_.files_total = tree->files;
    progress_.bytes_total = tree->bytes;
    std::vector<const SourceFile*> order;  // the order in which the loops below read them
    for (const SourceSession& s : tree->sessions) {
      for (const SourceFile& f : s.files) order.push_back(&f);
    }
    for (const SourceFile& f : tree->root_files) order.push_back(&f);
    files_ = std::make_unique<FileQueue>(tree->root.get(), src, std::move(order));
    piece_.resize(options_.read_chunk);
    for (const SourceSession& s : tree->sessions) {
      if (auto st = Session(s); !st.ok()) return st;
    }
    const auto& stored_root = existing_->RootFiles();
    for (const SourceFile& f : tree->root_files) {
      auto it = stored_root.find(f.rel);
      if (auto st = Attach(AttachKind::kRootFile, "", f,
                           it == stored_root.end() ? nullptr : &it->second);
          !st.ok()) {
        return st;
      }
    }
    if (auto st = pack_->Finish(); !st.ok()) return st;
    Progress(true);
    return report_;
  }

  absl::StatusOr<ImportReport> Stream(int fd, const std::string& what) {
    PresentEvents present(log_);
    if (auto s = present.Start(&report_.problems); !s.ok()) return s;
    std::vector<PreparedEvent> batch;
    absl::Status failed;
    absl::Status read = lines_.ForEach(fd, what, [&](const std::vector<NdjsonLine>& lines) {
      size_t n = 0;
      for (const NdjsonLine& line : lines) {
        report_.bytes += line.text.size() + (line.terminated ? 1 : 0);
        if (IsBlankLine(line.text)) continue;
        if (n == batch.size()) batch.emplace_back();
        absl::Status s = CheckEvent(line.text, &batch[n]);
        if (!s.ok()) {
          const std::string problem = absl::StrCat(what, ":", line.number, ": ", s.message());
          if (!options_.skip_bad_lines) {
            failed = absl::InvalidArgumentError(problem);
            return false;
          }
          ++report_.bad_lines;
          report_.problems.push_back(problem);
          continue;
        }
        EventKeys keys;
        if (DecodeKeys(batch[n].keys, &keys)) present.See(keys.session_id);
        ++n;
      }
      if (absl::Status s = present.Load(&report_.problems); !s.ok()) {
        failed = s;
        return false;
      }
      n = DropPresent(present, &batch, n);
      AppendBatchResult r = log_->AppendPrepared(absl::MakeConstSpan(batch.data(), n));
      HelpSeal();
      report_.events += r.appended;
      progress_.events = report_.events;
      progress_.bytes = report_.bytes;
      Progress(false);
      if (!r.status.ok()) {
        failed = r.status;
        return false;
      }
      return true;
    }, options_.read_chunk);
    if (!read.ok()) return read;
    if (!failed.ok()) return failed;
    report_.sessions = present.sessions_seen();
    Progress(true);
    return report_;
  }

 private:
  // Moves the events of (*batch)[0, n) that the log held out of the way,
  // keeping the order of the others; returns how many are kept.
  size_t DropPresent(const PresentEvents& present, std::vector<PreparedEvent>* batch, size_t n) {
    if (present.none()) return n;
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      EventKeys keys;
      if (DecodeKeys((*batch)[i].keys, &keys) && present.Contains(keys.session_id, keys.event_id)) {
        ++report_.skipped_present;
        continue;
      }
      if (kept != i) std::swap((*batch)[kept], (*batch)[i]);
      ++kept;
    }
    return kept;
  }

  // Prepares an event line; the error says why it is not one.
  absl::Status CheckEvent(absl::string_view line, PreparedEvent* out) {
    // simdjson checks UTF-8 as it parses; the column of a bad byte is
    // looked for only when something is wrong (and is reported first).
    absl::Status s = PrepareEvent(line, out);
    if (s.ok() && !out->invalid_utf8) return s;
    if (const size_t bad = FirstInvalidUtf8(line); bad != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at column ", bad + 1));
    }
    return s.ok() ? absl::InternalError("invalid UTF-8 not found again") : s;
  }

  absl::Status Session(const SourceSession& s) {
    ++report_.sessions;
    const auto* stored = existing_->SessionFiles(s.name);
    const EventsLayout* old = existing_->Layout(s.name);
    if (stored == nullptr && old == nullptr) ++report_.sessions_new;
    for (const SourceFile& f : s.files) {
      if (f.rel == "events.ndjson") {
        if (auto st = Events(s.name, f, old); !st.ok()) return st;
        continue;
      }
      const AttachmentStore::Entry* prev = nullptr;
      if (stored != nullptr) {
        if (auto it = stored->find(f.rel); it != stored->end()) prev = &it->second;
      }
      if (auto st = Attach(AttachKind::kSessionFile, s.name, f, prev); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  // Stores a file verbatim unless the log has the same bytes under its name.
  // Streamed through a bounded buffer, but for a session's meta.json, which
  // is checked to be a JSON object and so is read whole (agent-strace
  // itself loads it whole).
  absl::Status Attach(AttachKind kind, const std::string& session, const SourceFile& f,
                      const AttachmentStore::Entry* prev) {
    // Refused before it is read: a record's payload length is a u32.
    if (!AttachRecordFits(session.size(), f.rel.size(), f.size)) {
      return absl::InvalidArgumentError(absl::StrCat(
          f.path, ": ", f.size, " bytes; a file other than events.ndjson is stored as one "
          "attachment, of at most 4 GiB"));
    }
    auto fd = files_->Next();
    if (!fd.ok()) return fd.status();
    CountFile(f.size);
    if (f.rel == "meta.json" && kind == AttachKind::kSessionFile) {
      AttachRecord r;
      if (auto st = ReadPieces(fd->get(), f.path, &piece_,
                               [&](absl::string_view p) {
                                 r.content.append(p.data(), p.size());
                                 return absl::OkStatus();
                               });
          !st.ok()) {
        return st;
      }
      EventKeys ignored;
      EventKeyExtractor extractor;
      if (auto st = extractor.Extract(r.content, &ignored); !st.ok()) {
        const std::string problem =
            absl::StrCat(f.path, ": not a JSON object: ", WhereInText(r.content, st.message()));
        if (!options_.skip_bad_lines) return absl::InvalidArgumentError(problem);
        report_.problems.push_back(absl::StrCat(problem, " (kept verbatim)"));
      }
      if (prev != nullptr && prev->content_hash == Checksum64(r.content)) return absl::OkStatus();
      r.kind = kind;
      r.session = session;
      r.name = f.rel;
      ++report_.attachments;
      return pack_->Add(r);
    }
    if (prev != nullptr) {
      // Stored before: a pass that only hashes it, to store it again only
      // if it changed.
      Checksum64Stream sum;
      uint64_t size = 0;
      if (auto st = HashFile(fd->get(), f.path, &sum, &size); !st.ok()) return st;
      if (sum.Digest() == prev->content_hash) return absl::OkStatus();
      if (auto st = Rewind(fd->get(), 0, f.path); !st.ok()) return st;
    }
    if (auto st = pack_->BeginRecord(kind, session, f.rel); !st.ok()) return st;
    if (auto st = ReadPieces(fd->get(), f.path, &piece_,
                             [&](absl::string_view p) { return pack_->AppendContent(p); });
        !st.ok()) {
      return st;
    }
    ++report_.attachments;
    return pack_->EndRecord();
  }

  // Hashes `fd` from its current offset to its end: the whole file in
  // *total (and its size in *size), and, if `at_split` is given, its first
  // `split` bytes in *at_split (when it has that many; *has_split says
  // whether it has).
  absl::Status HashFile(int fd, const std::string& path, Checksum64Stream* total, uint64_t* size,
                        uint64_t split = 0, Checksum64Stream* at_split = nullptr,
                        bool* has_split = nullptr) {
    *size = 0;
    bool split_seen = at_split == nullptr || split == 0;
    if (has_split != nullptr) *has_split = split_seen;
    return ReadPieces(fd, path, &piece_, [&](absl::string_view p) {
      if (!split_seen && *size + p.size() >= split) {
        const size_t head = static_cast<size_t>(split - *size);
        total->Update(p.substr(0, head));
        *at_split = *total;
        split_seen = true;
        if (has_split != nullptr) *has_split = true;
        total->Update(p.substr(head));
      } else {
        total->Update(p);
      }
      *size += p.size();
      return absl::OkStatus();
    });
  }

  // The lines of a session's events.ndjson, streamed (memory: a chunk and
  // the longest line), hashed as they are read for the re-import rule.
  absl::Status Events(const std::string& session, const SourceFile& f, const EventsLayout* old) {
    auto opened = files_->Next();
    if (!opened.ok()) return opened.status();
    const int fd = opened->get();
    EventsLayout layout;
    uint64_t from = 0;      // offset where new lines begin
    Checksum64Stream sum;   // of the file's bytes up to `from`, then of all
    uint64_t seen_bytes = 0, seen_hash = 0;  // of the file, by the first pass (old != nullptr)
    if (old != nullptr) {
      // A first pass that only hashes: unchanged, grown, or changed?
      Checksum64Stream at_old;
      bool long_enough = false;
      if (auto st = HashFile(fd, f.path, &sum, &seen_bytes, old->file_bytes, &at_old, &long_enough);
          !st.ok()) {
        return st;
      }
      seen_hash = sum.Digest();
      if (seen_bytes == old->file_bytes && seen_hash == old->file_hash) {
        ++report_.sessions_unchanged;
        CountFile(f.size);
        return absl::OkStatus();
      }
      const bool grown = seen_bytes > old->file_bytes && old->final_newline && long_enough &&
                         at_old.Digest() == old->file_hash;
      if (grown) {
        layout = *old;
        from = old->file_bytes;
        sum = at_old;
        ++report_.sessions_grown;
      } else if (!options_.replace) {
        return absl::FailedPreconditionError(absl::StrCat(
            f.path, ": differs from the events.ndjson imported before for session ", session,
            " (", old->file_bytes, " bytes then, ", seen_bytes,
            " now, and not just new lines at the end): import with --replace to import it "
            "again"));
      } else {
        ++report_.sessions_replaced;
        layout.superseded = old->superseded;
        layout.superseded.insert(layout.superseded.end(), old->ranges.begin(), old->ranges.end());
        sum = Checksum64Stream();
      }
      if (auto st = Rewind(fd, from, f.path); !st.ok()) return st;
    }
    uint64_t line = layout.lines;  // index of the next line
    uint64_t bytes = from;         // of the file read so far
    bool final_newline = true;     // so far (an empty file counts as ending with one)
    absl::Status failed;
    auto flush = [&](size_t n) -> absl::Status {
      if (n == 0) return absl::OkStatus();
      AppendBatchResult r = log_->AppendPrepared(absl::MakeConstSpan(batch_.data(), n));
      HelpSeal();
      if (r.appended > 0) {
        auto& ranges = layout.ranges;
        if (!ranges.empty() && ranges.back().first + ranges.back().second == r.first_sequence) {
          ranges.back().second += r.appended;
        } else {
          ranges.emplace_back(r.first_sequence, r.appended);
        }
      }
      report_.events += r.appended;
      progress_.events = report_.events;
      return r.status;
    };
    // Each call's lines are contiguous in the reader's buffer, each
    // followed by its "\n" (but perhaps the last): appended before the
    // buffer is reused.
    absl::Status read = lines_.ForEach(
        fd, f.path,
        [&](const std::vector<NdjsonLine>& lines) {
          const NdjsonLine& last = lines.back();
          const char* begin = lines.front().text.data();
          const char* end = last.text.data() + last.text.size() + (last.terminated ? 1 : 0);
          sum.Update(absl::string_view(begin, static_cast<size_t>(end - begin)));
          bytes += static_cast<uint64_t>(end - begin);
          final_newline = last.terminated;
          size_t n = 0;
          for (const NdjsonLine& l : lines) {
            const uint64_t index = line++;
            if (IsBlankLine(l.text)) {
              layout.others.emplace_back(index, std::string(l.text));
              continue;
            }
            if (n == batch_.size()) batch_.emplace_back();
            if (absl::Status st = CheckEvent(l.text, &batch_[n]); !st.ok()) {
              const std::string problem = absl::StrCat(f.path, ":", index + 1, ": ", st.message());
              if (!options_.skip_bad_lines) {
                failed = absl::InvalidArgumentError(problem);
                return false;
              }
              ++report_.bad_lines;
              report_.problems.push_back(absl::StrCat(problem, " (kept verbatim, not an event)"));
              layout.others.emplace_back(index, std::string(l.text));
              continue;
            }
            ++n;
          }
          failed = flush(n);
          progress_.bytes = bytes_done_ + bytes;
          Progress(false);
          return failed.ok();
        },
        options_.read_chunk);
    if (!read.ok()) return read;
    if (!failed.ok()) return failed;
    if (old != nullptr && (bytes != seen_bytes || sum.Digest() != seen_hash)) {
      return absl::AbortedError(absl::StrCat(
          f.path, ": changed while it was being imported (", seen_bytes, " bytes, then ", bytes,
          "): import again"));
    }
    layout.file_bytes = bytes;
    layout.file_hash = sum.Digest();
    layout.final_newline = final_newline;  // new lines were read, or the file is empty
    layout.lines = line;
    CountFile(f.size);
    AttachRecord r;
    r.kind = AttachKind::kEventsLayout;
    r.session = session;
    r.name = "events.ndjson";
    r.content = EncodeEventsLayout(layout);
    return pack_->Add(r);
  }

  // When the background sealer falls behind (it does: parsing is faster
  // than zstd), this thread seals too, between batches: both cores
  // compress, and the import's raw segments go back to the log for reuse
  // while their pages are resident (Log::SealBacklog).
  void HelpSeal() {
    if (!options_.help_seal) return;
    log_->SealBacklog(1).IgnoreError();  // a segment left raw is sealed (or reported) later
  }

  void CountFile(uint64_t size) {
    ++progress_.files;
    bytes_done_ += size;
    report_.bytes = bytes_done_;
    progress_.bytes = bytes_done_;
    Progress(false);
  }

  void Progress(bool last) {
    if (!options_.progress) return;
    if (!last && ++calls_ % 64 != 0) return;
    options_.progress(progress_);
  }

  Log* const log_;
  const ImportOptions& options_;
  ImportReport report_;
  ImportProgress progress_;
  uint64_t bytes_done_ = 0;
  uint64_t calls_ = 0;
  std::unique_ptr<AttachmentStore> existing_;
  std::unique_ptr<AttachmentPackWriter> pack_;
  std::vector<PreparedEvent> batch_;
  std::unique_ptr<FileQueue> files_;  // of a directory import
  LineReader lines_;                  // of each events.ndjson
  std::string piece_;                 // a buffer for reading other files
};

}  // namespace

absl::StatusOr<ImportReport> ImportDirectory(Log* log, uint64_t first_sequence,
                                             const std::string& src, const ImportOptions& options) {
  Importer importer(log, options);
  return importer.Directory(first_sequence, src);
}

absl::StatusOr<ImportReport> ImportNdjsonStream(Log* log, int fd, const std::string& what,
                                                const ImportOptions& options) {
  Importer importer(log, options);
  return importer.Stream(fd, what);
}

}  // namespace tracelog
