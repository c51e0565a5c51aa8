#include "engine/ndjson/importer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/attachment_format.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/format/utf8.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/ndjson/line_reader.h"

namespace tracelog {

namespace {

constexpr uint64_t kBatchBytes = 4 << 20;

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
  std::string path;  // to open
  uint64_t size = 0;
};

struct SourceSession {
  std::string name;
  std::vector<SourceFile> files;  // events.ndjson among them, if present
};

struct SourceTree {
  std::vector<SourceSession> sessions;
  std::vector<SourceFile> root_files;
  uint64_t files = 0, bytes = 0;
};

// The entries of `dir` but "." and "..", in byte order (imports are
// deterministic).
absl::StatusOr<std::vector<std::string>> SortedNames(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return PosixError("cannot read the directory", dir);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The regular files under `dir`, recursively, with paths relative to it.
// Symbolic links and special files are not followed: they are noted.
absl::Status ListFiles(const std::string& dir, const std::string& rel_prefix,
                       std::vector<SourceFile>* out, std::vector<std::string>* problems) {
  auto names = SortedNames(dir);
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    const std::string path = JoinPath(dir, n);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return PosixError("stat", path);
    const std::string rel = rel_prefix.empty() ? n : absl::StrCat(rel_prefix, "/", n);
    if (S_ISDIR(st.st_mode)) {
      if (auto s = ListFiles(path, rel, out, problems); !s.ok()) return s;
    } else if (S_ISREG(st.st_mode)) {
      out->push_back(SourceFile{rel, path, static_cast<uint64_t>(st.st_size)});
    } else {
      problems->push_back(absl::StrCat(path, ": not a regular file or directory (",
                                       S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file",
                                       "): not imported"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SourceTree> Walk(const std::string& src, std::vector<std::string>* problems) {
  SourceTree tree;
  struct stat st;
  if (stat(src.c_str(), &st) != 0) return PosixError("cannot import", src);
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(src, ": not a directory"));
  }
  auto names = SortedNames(src);
  if (!names.ok()) return names.status();
  for (const std::string& n : *names) {
    const std::string path = JoinPath(src, n);
    struct stat es, ms;
    if (lstat(path.c_str(), &es) != 0) return PosixError("stat", path);
    const std::string meta = JoinPath(path, "meta.json");
    if (S_ISDIR(es.st_mode) && lstat(meta.c_str(), &ms) == 0 && S_ISREG(ms.st_mode)) {
      SourceSession s;
      s.name = n;
      if (auto st2 = ListFiles(path, "", &s.files, problems); !st2.ok()) return st2;
      tree.sessions.push_back(std::move(s));
    } else if (S_ISDIR(es.st_mode)) {
      if (auto st2 = ListFiles(path, n, &tree.root_files, problems); !st2.ok()) return st2;
    } else if (S_ISREG(es.st_mode)) {
      tree.root_files.push_back(SourceFile{n, path, static_cast<uint64_t>(es.st_size)});
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

// A file's bytes, read into a buffer that is reused from file to file (no
// mapping: unmapping in a process with several threads costs every core a
// TLB shootdown, per file).
class Contents {
 public:
  absl::Status Open(const SourceFile& f) {
    buf_.clear();
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return PosixError("cannot open", f.path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return PosixError("stat", f.path);
    }
    size_t got = 0;
    buf_.resize(static_cast<size_t>(st.st_size));
    while (got < buf_.size()) {
      const ssize_t n = ::read(fd, buf_.data() + got, buf_.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        return PosixError("read", f.path);
      }
      if (n == 0) break;  // it shrank meanwhile
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    buf_.resize(got);
    return absl::OkStatus();
  }
  absl::string_view view() const { return buf_; }

 private:
  std::string buf_;
};

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
    progress_.files_total = tree->files;
    progress_.bytes_total = tree->bytes;
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
    absl::flat_hash_set<std::string> sessions;
    std::vector<PreparedEvent> batch;
    absl::Status failed;
    absl::Status read = ForEachLineChunk(fd, what, [&](const std::vector<NdjsonLine>& lines) {
      size_t n = 0;
      for (const NdjsonLine& line : lines) {
        report_.bytes += line.text.size() + 1;
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
        if (DecodeKeys(batch[n].keys, &keys)) sessions.emplace(keys.session_id);
        ++n;
      }
      AppendBatchResult r = log_->AppendPrepared(absl::MakeConstSpan(batch.data(), n));
      report_.events += r.appended;
      progress_.events = report_.events;
      progress_.bytes = report_.bytes;
      Progress(false);
      if (!r.status.ok()) {
        failed = r.status;
        return false;
      }
      return true;
    });
    if (!read.ok()) return read;
    if (!failed.ok()) return failed;
    report_.sessions = sessions.size();
    Progress(true);
    return report_;
  }

 private:
  // Prepares an event line; the error says why it is not one.
  absl::Status CheckEvent(absl::string_view line, PreparedEvent* out) {
    if (const size_t bad = FirstInvalidUtf8(line); bad != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at column ", bad + 1));
    }
    return PrepareEvent(line, out);
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
  absl::Status Attach(AttachKind kind, const std::string& session, const SourceFile& f,
                      const AttachmentStore::Entry* prev) {
    // Refused before it is read: a record's payload length is a u32.
    if (!AttachRecordFits(session.size(), f.rel.size(), f.size)) {
      return absl::InvalidArgumentError(absl::StrCat(
          f.path, ": ", f.size, " bytes; a file other than events.ndjson is stored as one "
          "attachment, of at most 4 GiB"));
    }
    Contents& c = contents_;
    if (auto st = c.Open(f); !st.ok()) return st;
    CountFile(f.size);
    if (f.rel == "meta.json" && kind == AttachKind::kSessionFile) {
      EventKeys ignored;
      EventKeyExtractor extractor;
      if (auto st = extractor.Extract(c.view(), &ignored); !st.ok()) {
        const std::string problem =
            absl::StrCat(f.path, ": not a JSON object: ", WhereInText(c.view(), st.message()));
        if (!options_.skip_bad_lines) return absl::InvalidArgumentError(problem);
        report_.problems.push_back(absl::StrCat(problem, " (kept verbatim)"));
      }
    }
    if (prev != nullptr && prev->content_hash == Checksum64(c.view())) return absl::OkStatus();
    AttachRecord r;
    r.kind = kind;
    r.session = session;
    r.name = f.rel;
    r.content = std::string(c.view());
    ++report_.attachments;
    return pack_->Add(r);
  }

  absl::Status Events(const std::string& session, const SourceFile& f, const EventsLayout* old) {
    Contents& c = contents_;
    if (auto st = c.Open(f); !st.ok()) return st;
    const absl::string_view data = c.view();
    const uint64_t hash = Checksum64(data);
    EventsLayout layout;
    uint64_t from = 0;  // offset where new lines begin
    if (old != nullptr) {
      if (old->file_bytes == data.size() && old->file_hash == hash) {
        ++report_.sessions_unchanged;
        CountFile(f.size);
        return absl::OkStatus();
      }
      const bool grown = data.size() > old->file_bytes && old->final_newline &&
                         Checksum64(data.substr(0, old->file_bytes)) == old->file_hash;
      if (grown) {
        layout = *old;
        from = old->file_bytes;
        ++report_.sessions_grown;
      } else if (!options_.replace) {
        return absl::FailedPreconditionError(absl::StrCat(
            f.path, ": differs from the events.ndjson imported before for session ", session,
            " (", old->file_bytes, " bytes then, ", data.size(),
            " now, and not just new lines at the end): import with --replace to import it "
            "again"));
      } else {
        ++report_.sessions_replaced;
        layout.superseded = old->superseded;
        layout.superseded.insert(layout.superseded.end(), old->ranges.begin(), old->ranges.end());
      }
    }
    layout.file_bytes = data.size();
    layout.file_hash = hash;
    layout.final_newline = data.empty() || data.back() == '\n';
    uint64_t line = layout.lines;  // index of the next line
    size_t n = 0;
    uint64_t batch_bytes = 0;
    auto flush = [&]() -> absl::Status {
      if (n == 0) return absl::OkStatus();
      AppendBatchResult r = log_->AppendPrepared(absl::MakeConstSpan(batch_.data(), n));
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
      n = 0;
      batch_bytes = 0;
      return r.status;
    };
    for (size_t at = from; at < data.size();) {
      const size_t nl = data.find('\n', at);
      const size_t end = nl == absl::string_view::npos ? data.size() : nl;
      const absl::string_view text = data.substr(at, end - at);
      at = nl == absl::string_view::npos ? data.size() : nl + 1;
      const uint64_t index = line++;
      if (IsBlankLine(text)) {
        layout.others.emplace_back(index, std::string(text));
        continue;
      }
      if (n == batch_.size()) batch_.emplace_back();
      if (absl::Status st = CheckEvent(text, &batch_[n]); !st.ok()) {
        const std::string problem = absl::StrCat(f.path, ":", index + 1, ": ", st.message());
        if (!options_.skip_bad_lines) return absl::InvalidArgumentError(problem);
        ++report_.bad_lines;
        report_.problems.push_back(absl::StrCat(problem, " (kept verbatim, not an event)"));
        layout.others.emplace_back(index, std::string(text));
        continue;
      }
      ++n;
      batch_bytes += text.size();
      if (batch_bytes >= kBatchBytes) {
        if (auto st = flush(); !st.ok()) return st;
        progress_.bytes = bytes_done_ + at;
        Progress(false);
      }
    }
    if (auto st = flush(); !st.ok()) return st;
    layout.lines = line;
    CountFile(f.size);
    AttachRecord r;
    r.kind = AttachKind::kEventsLayout;
    r.session = session;
    r.name = "events.ndjson";
    r.content = EncodeEventsLayout(layout);
    return pack_->Add(r);
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
  Contents contents_;  // the file being imported (events are appended before the next)
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
