#include "engine/ndjson/exporter.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/format/event_keys.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/ndjson/pyjson.h"
#include "engine/ndjson/session_meta.h"
#include "engine/seal/index_builder.h"

namespace tracelog {

namespace {

constexpr size_t kSessionBuffer = 256 << 10;
constexpr uint64_t kAllBuffers = 16 << 20;
const std::string kNone;  // the "session" of superseded events: none

// The output directory: every path below it is opened relative to it, one
// checked component at a time, without following links (Directory,
// engine/io/file_system.h).
//
// Every file is a new one of the export's: created 0600 exclusively, so
// nothing already at its name (a file planted in an existing directory
// written into with `force`: a hard link to a file elsewhere, a file with a
// wider mode, a symbolic link) is ever written through or keeps its mode.
// Without `force` it is created at its name (the directory was empty);
// with `force` under a temporary name beside it, then renamed over the
// name. A file is added to later (events.ndjson, written in pieces) or cut
// only if it is still the one the export created (File::Identity).
class OutDir {
 public:
  absl::Status Open(FileSystem* fs, const std::string& path, bool force) {
    path_ = path;
    force_ = force;
    auto root = fs->OpenDirectory(path, /*create=*/true);
    if (!root.ok()) return root.status();
    root_ = std::move(*root);
    if (!force) {
      // Refuse to write into anything but an empty directory.
      auto names = root_->List();
      if (!names.ok()) return names.status();
      if (!names->empty()) {
        return absl::AlreadyExistsError(absl::StrCat(
            path, ": the output directory exists and is not empty (use --force to write into it)"));
      }
    }
    return absl::OkStatus();
  }

  // Writes `bytes` to the file at `rel`: a new file (0600), or with
  // `append` added to the one this export created there.
  absl::Status Write(absl::string_view rel, absl::string_view bytes, bool append) {
    if (append) {
      auto f = OpenCreated(rel);
      if (!f.ok()) return f.status();
      auto size = (*f)->Size();
      if (!size.ok()) return Named(size.status(), rel);
      return Named((*f)->Write(*size, bytes), rel);
    }
    return WriteFrom(
        rel, [&](const auto& sink) { return sink(bytes); }, nullptr);
  }

  // Writes the new file at `rel` (0600) from the pieces `produce` hands to
  // its sink (their size in *written, if given); if `produce` fails (the
  // stored bytes are damaged, say), the file is removed: no partial file is
  // left behind.
  absl::Status WriteFrom(
      absl::string_view rel,
      const std::function<absl::Status(const std::function<absl::Status(absl::string_view)>&)>&
          produce,
      uint64_t* written) {
    NewFile f;
    if (auto s = Create(rel, &f); !s.ok()) return s;
    uint64_t n = 0;
    absl::Status s = produce([&](absl::string_view piece) {
      const uint64_t at = n;
      n += piece.size();
      return Named(f.file->Write(at, piece), rel);
    });
    if (written != nullptr) *written = n;
    if (s.ok()) s = Finish(rel, &f);
    if (!s.ok()) f.dir->Remove(f.created).IgnoreError();
    return s;
  }

  // Cuts the last `n` bytes of the file this export created at `rel`.
  absl::Status TrimEnd(absl::string_view rel, uint64_t n) {
    auto f = OpenCreated(rel);
    if (!f.ok()) return f.status();
    auto size = (*f)->Size();
    if (!size.ok()) return Named(size.status(), rel);
    if (*size < n) return absl::InternalError(absl::StrCat(Describe(rel), ": shorter than its end"));
    return Named((*f)->Truncate(*size - n), rel);
  }

  std::string Describe(absl::string_view rel) const { return absl::StrCat(path_, "/", rel); }

 private:
  // A file being written: its directory, the name it was created under
  // (a temporary one with `force`) and the name it gets.
  struct NewFile {
    std::unique_ptr<Directory> owned;  // dir, unless it is the root
    Directory* dir = nullptr;
    std::unique_ptr<File> file;
    std::string created, name;
  };
  using FileId = std::pair<uint64_t, uint64_t>;

  // `s`, its message naming the file at `rel` if it does not already.
  absl::Status Named(absl::Status s, absl::string_view rel) const {
    if (s.ok() || absl::StrContains(s.message(), Describe(rel))) return s;
    return absl::Status(s.code(), absl::StrCat(Describe(rel), ": ", s.message()));
  }

  // The directory at `rel` ("a/b", not ""), created (0700) as needed.
  absl::StatusOr<std::unique_ptr<Directory>> Dir(absl::string_view rel) {
    std::unique_ptr<Directory> cur;
    for (absl::string_view part : absl::StrSplit(rel, '/')) {
      if (auto why = UnsafeName(part)) {
        return absl::InvalidArgumentError(absl::StrCat("unsafe name '", rel, "': ", *why));
      }
      Directory* parent = cur != nullptr ? cur.get() : root_.get();
      auto next = parent->OpenDir(std::string(part), /*create=*/true);
      if (!next.ok()) return Named(next.status(), rel);
      cur = std::move(*next);
    }
    return cur;
  }

  // Creates the new file for `rel` (0600, exclusively, not through a link).
  absl::Status Create(absl::string_view rel, NewFile* f) {
    if (auto s = Parent(rel, &f->owned, &f->dir, &f->name); !s.ok()) return s;
    if (!force_) {
      f->created = f->name;
      auto file = f->dir->Create(f->created);
      if (!file.ok()) return Named(file.status(), rel);
      f->file = std::move(*file);
      return absl::OkStatus();
    }
    // A name of its own in the same directory (renamed within it); one
    // that exists, planted or an exported file's, is passed over.
    absl::Status last;
    for (int attempt = 0; attempt < 100; ++attempt) {
      f->created = absl::StrCat(".tracelog-export-", ::getpid(), "-", temp_counter_++, ".tmp");
      auto file = f->dir->Create(f->created);
      if (file.ok()) {
        f->file = std::move(*file);
        return absl::OkStatus();
      }
      last = file.status();
      if (!absl::IsAlreadyExists(last)) break;
    }
    return absl::Status(last.code(), absl::StrCat("cannot create a temporary file for ",
                                                  Describe(rel), ": ", last.message()));
  }

  // Puts the written file at its name (with `force`, replacing whatever is
  // there) and remembers it as the export's.
  absl::Status Finish(absl::string_view rel, NewFile* f) {
    auto id = f->file->Identity();
    if (!id.ok()) return Named(id.status(), rel);
    if (f->created != f->name) {
      if (auto s = f->dir->Rename(f->created, f->name); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("cannot replace ", Describe(rel), ": ",
                                                   s.message()));
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    created_[std::string(rel)] = *id;
    return absl::OkStatus();
  }

  // Opens the file this export created at `rel`; an error if it is gone or
  // was replaced since.
  absl::StatusOr<std::unique_ptr<File>> OpenCreated(absl::string_view rel) {
    FileId id;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = created_.find(rel);
      if (it == created_.end()) {
        return absl::InternalError(absl::StrCat(Describe(rel), ": not created by this export"));
      }
      id = it->second;
    }
    std::unique_ptr<Directory> owned;
    Directory* dir = nullptr;
    std::string name;
    if (auto s = Parent(rel, &owned, &dir, &name); !s.ok()) return s;
    auto f = dir->OpenWrite(name);
    if (!f.ok()) return Named(f.status(), rel);
    auto now = (*f)->Identity();
    if (!now.ok()) return Named(now.status(), rel);
    if (*now != id) {
      return absl::AbortedError(absl::StrCat(
          Describe(rel), ": replaced by another file while the export wrote it: not written"));
    }
    return f;
  }

  // The directory holding `rel` (created as needed; in *owned unless it is
  // the root) and its last component, checked to be a safe name.
  absl::Status Parent(absl::string_view rel, std::unique_ptr<Directory>* owned, Directory** dir,
                      std::string* name) {
    const size_t slash = rel.rfind('/');
    const absl::string_view parent = slash == absl::string_view::npos ? "" : rel.substr(0, slash);
    *name = std::string(slash == absl::string_view::npos ? rel : rel.substr(slash + 1));
    if (auto why = UnsafeName(*name)) {
      return absl::InvalidArgumentError(absl::StrCat("unsafe name '", rel, "': ", *why));
    }
    if (parent.empty()) {
      *dir = root_.get();
      return absl::OkStatus();
    }
    auto d = Dir(parent);
    if (!d.ok()) return d.status();
    *owned = std::move(*d);
    *dir = owned->get();
    return absl::OkStatus();
  }

  std::string path_;
  bool force_ = false;
  std::unique_ptr<Directory> root_;
  std::atomic<uint64_t> temp_counter_{0};
  std::mutex mu_;  // created_ (written by WriteBehind's thread and the caller's)
  absl::flat_hash_map<std::string, FileId> created_;
};

// Writes files of an OutDir on a thread of its own, in the order they are
// handed over, so that decoding the log (on the caller's thread) and the
// file system's work (page cache, allocation: about as much again) use both
// cores. At most kMaxPending bytes wait; the first error stops the writes
// that follow and is returned by every later call.
class WriteBehind {
 public:
  explicit WriteBehind(OutDir* out) : out_(out), thread_([this] { Loop(); }) {}
  ~WriteBehind() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  absl::Status Write(std::string rel, std::string bytes, bool append) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return pending_bytes_ < kMaxPending || !status_.ok(); });
    if (!status_.ok()) return status_;
    pending_bytes_ += bytes.size();
    ++unfinished_;
    queue_.push_back(Job{std::move(rel), std::move(bytes), append});
    cv_.notify_all();
    return absl::OkStatus();
  }

  // Waits until every file handed over is written.
  absl::Status Drain() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return unfinished_ == 0 || !status_.ok(); });
    return status_;
  }

 private:
  static constexpr uint64_t kMaxPending = 32 << 20;
  struct Job {
    std::string rel, bytes;
    bool append;
  };

  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped
      Job job = std::move(queue_.front());
      queue_.pop_front();
      const bool write = status_.ok();  // after an error the rest is dropped
      l.unlock();
      absl::Status s = write ? out_->Write(job.rel, job.bytes, job.append) : absl::OkStatus();
      l.lock();
      --unfinished_;
      pending_bytes_ -= job.bytes.size();
      if (status_.ok()) status_ = s;
      cv_.notify_all();
    }
  }

  OutDir* const out_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  uint64_t pending_bytes_ = 0;
  size_t unfinished_ = 0;  // handed over, not yet written (queued or being written)
  bool stop_ = false;
  absl::Status status_;
  std::thread thread_;  // last: starts once the rest is built
};

// One session being written.
struct SessionOut {
  std::string name;
  std::string refused;  // why nothing is written for it (empty: written)
  const EventsLayout* layout = nullptr;
  size_t next_other = 0;  // in layout->others
  uint64_t lines = 0;     // lines written so far
  std::string buffer;     // of events.ndjson, not yet written
  bool created = false;   // events.ndjson exists
  SessionStats stats;
};

class Exporter {
 public:
  Exporter(Log* log, const ExportOptions& options, const CorruptionReporter& reporter)
      : log_(log), options_(options), reporter_(reporter) {}

  absl::StatusOr<ExportReport> Run(const std::string& out) {
    store_ = options_.store;
    if (store_ == nullptr) {
      auto store = AttachmentStore::Load(log_->file_system(), log_->dir(),
                                         [&](const Corruption& c) { Damage(c); });
      if (!store.ok()) return store.status();
      owned_store_ = std::move(*store);
      store_ = owned_store_.get();
    }
    FileSystem* const fs = options_.fs != nullptr ? options_.fs : DefaultFileSystem();
    if (auto s = out_.Open(fs, out, options_.force); !s.ok()) return s;
    for (const std::string& s : options_.sessions) wanted_.insert(s);
    for (const auto& [rel, e] : store_->RootFiles()) {
      root_names_.insert(std::string(absl::string_view(rel).substr(0, rel.find('/'))));
    }
    // Which sequences are the lines of which imported events.ndjson.
    // Superseded ones (replaced by a later import) belong to no file.
    for (const auto& [session, layout] : store_->Layouts()) {
      for (const auto& [first, count] : layout.ranges) ranges_.push_back({first, count, &session});
      for (const auto& [first, count] : layout.superseded) ranges_.push_back({first, count, &kNone});
    }
    std::sort(ranges_.begin(), ranges_.end(),
              [](const Range& a, const Range& b) { return a.first < b.first; });
    writer_ = std::make_unique<WriteBehind>(&out_);
    if (auto s = Events(); !s.ok()) return s;
    if (auto s = writer_->Drain(); !s.ok()) return s;
    writer_.reset();  // Finish writes on this thread, in the order it needs
    if (auto s = Finish(); !s.ok()) return s;
    return report_;
  }

 private:
  struct Range {
    uint64_t first, count;
    const std::string* session;
  };

  void Damage(const Corruption& c) {
    ++report_.corruptions;
    if (reporter_) reporter_(c);
  }

  bool Wanted(const std::string& session) const {
    return wanted_.empty() || wanted_.contains(session);
  }

  SessionOut& Session(const std::string& name) {
    auto [it, inserted] = sessions_.try_emplace(name);
    SessionOut& s = it->second;
    if (inserted) {
      s.name = name;
      s.layout = store_->Layout(name);
      if (auto why = UnsafeName(name)) {
        s.refused = *why;
      } else if (root_names_.contains(name)) {
        s.refused = "the imported tree has a root entry of that name";
      }
      if (!s.refused.empty()) {
        report_.refused.push_back(absl::StrCat("session '", absl::CHexEscape(name), "': ", s.refused));
      } else {
        ++report_.sessions;
      }
    }
    return s;
  }

  // The stored lines that are not events and come next.
  void Others(SessionOut& s) {
    if (s.layout == nullptr) return;
    const auto& others = s.layout->others;
    while (s.next_other < others.size() && others[s.next_other].first == s.lines) {
      s.buffer += others[s.next_other].second;
      s.buffer += '\n';
      ++s.next_other;
      ++s.lines;
    }
  }

  absl::Status Flush(SessionOut& s) {
    if (s.buffer.empty()) return absl::OkStatus();
    const size_t size = s.buffer.size();
    std::string rel = absl::StrCat(s.name, "/events.ndjson");
    if (auto st = writer_ != nullptr ? writer_->Write(std::move(rel), std::move(s.buffer), s.created)
                                     : out_.Write(rel, s.buffer, s.created);
        !st.ok()) {
      return st;
    }
    if (!s.created) ++report_.files;
    s.created = true;
    report_.bytes += size;
    buffered_ -= size;
    s.buffer = std::string();
    return absl::OkStatus();
  }

  absl::Status Add(const std::string& session, absl::string_view event, const EventKeys& keys) {
    SessionOut& s = Session(session);
    if (!s.refused.empty()) return absl::OkStatus();
    const size_t before = s.buffer.size();
    Others(s);
    s.buffer.append(event.data(), event.size());
    s.buffer += '\n';
    ++s.lines;
    buffered_ += s.buffer.size() - before;
    s.stats.Add(keys, event);
    ++report_.events;
    // A session's buffer is written when it is large, when the session
    // ends, and, when all buffers together pass their bound, largest first.
    if (s.buffer.size() >= kSessionBuffer || keys.event_type == "session_end") {
      if (auto st = Flush(s); !st.ok()) return st;
    }
    if (buffered_ >= kAllBuffers) {
      std::vector<SessionOut*> by_size;
      for (auto& [name, other] : sessions_) {
        if (!other.buffer.empty()) by_size.push_back(&other);
      }
      std::sort(by_size.begin(), by_size.end(), [](const SessionOut* a, const SessionOut* b) {
        return a->buffer.size() > b->buffer.size();
      });
      for (SessionOut* other : by_size) {
        if (buffered_ < kAllBuffers / 2) break;
        if (auto st = Flush(*other); !st.ok()) return st;
      }
    }
    if (options_.progress && report_.events % 65536 == 0) {
      options_.progress(ExportProgress{report_.events, total_, report_.bytes + buffered_});
    }
    return absl::OkStatus();
  }

  // The session an event belongs to: the imported events.ndjson whose line
  // it is, else its session_id.
  const std::string* ImportedSession(uint64_t seq) {
    while (next_range_ < ranges_.size() &&
           ranges_[next_range_].first + ranges_[next_range_].count <= seq) {
      ++next_range_;
    }
    if (next_range_ < ranges_.size() && ranges_[next_range_].first <= seq) {
      return ranges_[next_range_].session;
    }
    return nullptr;
  }

  absl::Status Events() {
    total_ = log_->Stats().events;
    absl::Status failed;
    if (!options_.filter) {
      ReaderOptions ro;
      ro.reporter = [&](const Corruption& c) { Damage(c); };
      // The next segment is decompressed on the other core while this one
      // is sorted into files: decompression was half of an export's time.
      ro.read_ahead = true;
      auto reader = log_->NewReader(ro);
      LogEvent ev;
      while (reader->Next(&ev)) {
        const std::string* imported = ImportedSession(ev.sequence);
        if (imported == &kNone) continue;
        const std::string session = imported != nullptr ? *imported : std::string(ev.keys.session_id);
        if (!Wanted(session)) continue;
        if (auto s = Add(session, ev.event, ev.keys); !s.ok()) return s;
      }
      return reader->status().ok() || absl::IsDataLoss(reader->status()) ? absl::OkStatus()
                                                                          : reader->status();
    }
    QueryEngine engine(log_);
    Query q = *options_.filter;
    EventKeyExtractor extractor;
    auto n = engine.Run(
        q,
        [&](uint64_t seq, absl::string_view event) {
          EventKeys keys;
          extractor.Extract(event, &keys, /*validate=*/false).IgnoreError();
          const std::string* imported = ImportedSession(seq);
          if (imported == &kNone) return true;
          const std::string session = imported != nullptr ? *imported : std::string(keys.session_id);
          if (!Wanted(session)) return true;
          failed = Add(session, event, keys);
          return failed.ok();
        },
        nullptr, [&](const Corruption& c) { Damage(c); });
    if (!failed.ok()) return failed;
    return n.status();
  }

  absl::Status Finish() {
    // Sessions that an import stored but that have no event (an empty
    // events.ndjson, or only attachments): written too, unless filtered.
    if (!options_.filter) {
      for (const std::string& name : store_->Sessions()) {
        if (Wanted(name)) Session(name);
      }
    }
    for (auto& [name, s] : sessions_) {
      if (!s.refused.empty()) continue;
      const EventsLayout* l = s.layout;
      Others(s);
      const bool exact = l != nullptr && s.lines == l->lines && !options_.filter;
      const bool trim = exact && !l->final_newline && s.lines > 0;
      if (trim && !s.buffer.empty()) {
        s.buffer.pop_back();
        --buffered_;
      }
      if (s.buffer.empty() && !s.created && (l != nullptr || s.lines > 0)) {
        // An empty events.ndjson (agent-strace creates one for every session).
        if (auto st = out_.Write(absl::StrCat(name, "/events.ndjson"), "", false); !st.ok()) return st;
        ++report_.files;
        s.created = true;
      }
      const bool trimmed_in_buffer = trim && !s.buffer.empty();
      const bool was_created = s.created;
      if (auto st = Flush(s); !st.ok()) return st;
      if (trim && !trimmed_in_buffer && was_created) {
        if (auto st = out_.TrimEnd(absl::StrCat(name, "/events.ndjson"), 1); !st.ok()) return st;
      }
      // meta.json and the other files, as stored; else a derived meta.json.
      const auto* files = store_->SessionFiles(name);
      bool have_meta = false;
      if (files != nullptr) {
        for (const auto& [rel, e] : *files) {
          if (auto st = Copy(absl::StrCat(name, "/", rel), e); !st.ok()) return st;
          have_meta = have_meta || rel == "meta.json";
        }
      }
      if (!have_meta) {
        const std::string meta = AgentStraceMetaJson(name, s.stats);
        if (auto st = out_.Write(absl::StrCat(name, "/meta.json"), meta, false); !st.ok()) return st;
        ++report_.files;
        report_.bytes += meta.size();
      }
    }
    if (!options_.filter && options_.sessions.empty()) {
      for (const auto& [rel, e] : store_->RootFiles()) {
        if (auto st = Copy(rel, e); !st.ok()) {
          if (absl::IsDataLoss(st)) return st;
          report_.refused.push_back(absl::StrCat("root file '", absl::CHexEscape(rel), "': ", st.message()));
        }
      }
    }
    if (options_.progress) {
      options_.progress(ExportProgress{report_.events, total_, report_.bytes});
    }
    return absl::OkStatus();
  }

  // Writes a stored file to `rel`, streamed from its pack.
  absl::Status Copy(const std::string& rel, const AttachmentStore::Entry& e) {
    uint64_t written = 0;
    absl::Status s = out_.WriteFrom(
        rel, [&](const auto& sink) { return store_->ReadTo(e, sink); }, &written);
    if (!s.ok()) return s;
    ++report_.files;
    report_.bytes += written;
    return absl::OkStatus();
  }

  Log* const log_;
  const ExportOptions& options_;
  const CorruptionReporter& reporter_;
  ExportReport report_;
  OutDir out_;
  std::unique_ptr<WriteBehind> writer_;  // while the events are read (Run)
  std::unique_ptr<AttachmentStore> owned_store_;  // loaded here, if not given
  const AttachmentStore* store_ = nullptr;
  absl::flat_hash_set<std::string> wanted_, root_names_;
  std::vector<Range> ranges_;
  size_t next_range_ = 0;
  std::map<std::string, SessionOut> sessions_;
  uint64_t buffered_ = 0;
  uint64_t total_ = 0;
};

}  // namespace

std::optional<std::string> UnsafeName(absl::string_view name) {
  if (name.empty()) return "empty";
  if (name == "." || name == "..") return "a relative directory name";
  if (name.find('/') != absl::string_view::npos) return "holds '/'";
  if (name.find('\0') != absl::string_view::npos) return "holds a NUL byte";
  return std::nullopt;
}

absl::StatusOr<ExportReport> ExportDirectory(Log* log, const std::string& out,
                                             const ExportOptions& options,
                                             const CorruptionReporter& reporter) {
  Exporter exporter(log, options, reporter);
  return exporter.Run(out);
}

}  // namespace tracelog
