#include "engine/server/server.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/format/event_keys.h"
#include "engine/format/segment_format.h"
#include "engine/io/errno_status.h"
#include "engine/io/unique_fd.h"
#include "engine/log/ingest.h"
#include "engine/ndjson/ack.h"
#include "engine/ndjson/line_reader.h"
#include "engine/server/batch_send.h"

namespace tracelog {
namespace {

// A line the connection thread read, on its way to the append thread.
struct Item {
  uint64_t conn = 0;
  uint64_t line = 0;       // the client's line number
  std::string text;        // the event (owned), or empty for an error
  std::string error;       // why the line is refused (answered, not appended)
  bool hello = false;      // a hello, answered with the greeting
  bool stats = false;      // the hello asked for the counters
  PreparedEvent prepared;  // its event view is set by the append thread
  bool durable = false;    // the client asked for durable answers
};

// What the append thread hands back: the answer lines of a connection.
struct Answer {
  uint64_t conn = 0;
  std::string text;
  size_t items = 0;  // how many of the connection's items it answers
};

struct Connection {
  UniqueFd fd;
  uint64_t id = 0;
  std::string in;           // bytes read, not yet a whole line
  size_t scanned = 0;       // of `in`, known to hold no '\n'
  uint64_t line = 0;        // lines seen
  bool skipping = false;    // in the rest of a line over the limit
  bool durable = false;     // hello asked for sync=always
  bool no_redact = false;   // hello asked for redact=off
  bool eof = false;         // the client closed its side
  bool reading = true;      // EPOLLIN is wanted
  bool watched = true;      // in the epoll set
  uint32_t mask = EPOLLIN | EPOLLRDHUP;  // what the epoll set has for it
  bool touched = false;     // in touched_: looked at after this loop turn
  std::string out;          // answers not yet written
  size_t out_at = 0;
  uint64_t in_flight = 0;   // items queued and not answered
  absl::Time active;        // last read or write
};

std::string Trim(absl::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

class ServerImpl final : public Server {
 public:
  ServerImpl(Log* log, ServerOptions options)
      : log_(log), options_(std::move(options)), sender_(options_.batch_sends) {}
  ~ServerImpl() override { Stop(absl::ZeroDuration()); }

  absl::Status Init() {
    const std::string& path = options_.socket_path;
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": socket path too long (at most ", sizeof(addr.sun_path) - 1, " bytes)"));
    }
    listen_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (listen_.get() < 0) return ErrnoStatus(errno, "socket", path);
    // A socket left by a server that was killed: the caller holds the log's
    // writer lock, so no live server owns it.
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": exists and is not a socket: not replaced"));
      }
      if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, "remove the stale socket", path);
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const mode_t old = ::umask(0177);  // the socket is created 0600
    const int rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    const int bind_errno = errno;
    ::umask(old);
    if (rc != 0) return ErrnoStatus(bind_errno, "bind", path);
    if (::listen(listen_.get(), 512) != 0) return ErrnoStatus(errno, "listen", path);
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (epoll_.get() < 0 || wake_.get() < 0) return ErrnoStatus(errno, "epoll", path);
    Watch(listen_.get(), EPOLLIN, kListenTag);
    Watch(wake_.get(), EPOLLIN, kWakeTag);
    stats_.batched_sends = sender_.batched();
    io_thread_ = std::thread([this] { IoLoop(); });
    append_thread_ = std::thread([this] { AppendLoop(); });
    return absl::OkStatus();
  }

  void Stop(absl::Duration drain) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) return;
      stopped_ = true;
      drain_deadline_ = absl::Now() + drain;
    }
    stopping_.store(true);
    Wake();
    cv_.notify_all();
    if (io_thread_.joinable()) io_thread_.join();
    {
      std::lock_guard<std::mutex> l(mu_);
      append_stop_ = true;
    }
    cv_.notify_all();
    if (append_thread_.joinable()) append_thread_.join();
    ::unlink(options_.socket_path.c_str());
  }

  ServerStats Stats() const override {
    std::lock_guard<std::mutex> l(mu_);
    return stats_;
  }

 private:
  static constexpr uint64_t kListenTag = ~uint64_t{0};
  static constexpr uint64_t kWakeTag = ~uint64_t{0} - 1;

  void Watch(int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  // Asks epoll for what `c` waits for now. A connection that waits for
  // nothing (reading paused, nothing to write) leaves the set: a peer that
  // hung up would otherwise be reported again and again (EPOLLHUP cannot be
  // masked) while its unread lines wait for room in the queue.
  void Rewatch(Connection& c) {
    const bool in = c.reading && !c.eof, out = c.out_at < c.out.size() && !c.eof;
    epoll_event ev{};
    ev.events = (in ? uint32_t{EPOLLIN | EPOLLRDHUP} : 0u) | (out ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = c.id;
    if (ev.events == 0) {
      if (c.watched) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
      c.watched = false;
      return;
    }
    if (c.watched && c.mask == ev.events) return;  // no system call for no change
    ::epoll_ctl(epoll_.get(), c.watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd.get(), &ev);
    c.watched = true;
    c.mask = ev.events;
  }
  // `c` is looked at (flushed, its reading and closing decided) at the end
  // of this turn of the loop.
  void Touch(Connection& c) {
    if (c.touched) return;
    c.touched = true;
    touched_.push_back(c.id);
  }
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
  }

  // ---- the connection thread ----

  void IoLoop() {
    pthread_setname_np(pthread_self(), "tracelog-conns");
    std::vector<epoll_event> events(256);
    absl::Time paused_since = absl::InfinitePast();
    absl::Time last_sweep = absl::InfinitePast();
    bool was_full = false;
    while (true) {
      const bool stopping = stopping_.load();
      if (stopping && Drained()) break;
      if (stopping && absl::Now() >= DrainDeadline()) break;
      const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 200);
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kListenTag) {
          if (!stopping) Accept();
        } else if (tag == kWakeTag) {
          uint64_t v;
          while (::read(wake_.get(), &v, sizeof(v)) > 0) {
          }
        } else {
          auto it = conns_.find(tag);
          if (it == conns_.end()) continue;
          Connection& c = *it->second;
          if ((events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !stopping) Read(c);
          if (events[i].events & EPOLLOUT) Flush(c);
          Rewatch(c);
          Touch(c);
        }
      }
      // The append thread is woken once for all this turn read, not once per
      // connection: each wake-up could preempt this thread.
      NotifyAppender();
      TakeAnswers();
      // Backpressure: read again once the queue has room.
      const bool full = QueueFull();
      if (full && paused_since == absl::InfinitePast()) paused_since = absl::Now();
      if (!full && paused_since != absl::InfinitePast()) {
        std::lock_guard<std::mutex> l(mu_);
        stats_.blocked_micros += absl::ToInt64Microseconds(absl::Now() - paused_since);
        paused_since = absl::InfinitePast();
      }
      const absl::Time now = absl::Now();
      // Every connection is looked at when the queue fills or drains, while
      // stopping, and every 100 ms (idle timeouts); otherwise only those
      // this turn touched: with many clients, a turn for one event must not
      // cost a pass over all of them.
      const bool sweep = full != was_full || stopping || now - last_sweep >= absl::Milliseconds(100);
      was_full = full;
      std::vector<uint64_t> look;
      look.swap(touched_);
      if (sweep) {
        last_sweep = now;
        look.clear();
        for (auto& [id, cp] : conns_) look.push_back(id);
      }
      std::vector<uint64_t> closing;
      for (uint64_t id : look) {
        auto found = conns_.find(id);
        if (found == conns_.end()) continue;
        Connection& c = *found->second;
        c.touched = false;
        Flush(c);
        const bool want = !stopping && !full && c.out.size() - c.out_at < options_.max_unanswered_bytes;
        if (want != c.reading) {
          c.reading = want;
          Rewatch(c);
          if (want) Read(c);  // level-triggered: what waited is read now
        }
        const bool idle = c.in_flight == 0 && now - c.active >= options_.idle_timeout;
        const bool done = c.eof && c.in_flight == 0 && c.out_at == c.out.size();
        if (done || idle || (stopping && c.in_flight == 0 && c.out_at == c.out.size())) {
          closing.push_back(id);
        }
      }
      for (uint64_t id : closing) Close(id);
      NotifyAppender();
    }
    conns_.clear();  // closes them
    std::lock_guard<std::mutex> l(mu_);
    stats_.connections = 0;
  }

  bool Drained() {
    std::lock_guard<std::mutex> l(mu_);
    if (!queue_.empty() || appending_ || !answers_.empty()) return false;
    for (auto& [id, c] : conns_) {
      if (c->in_flight > 0 || c->out_at < c->out.size()) return false;
    }
    return true;
  }
  absl::Time DrainDeadline() {
    std::lock_guard<std::mutex> l(mu_);
    return drain_deadline_;
  }
  bool QueueFull() {
    std::lock_guard<std::mutex> l(mu_);
    return queued_bytes_ >= options_.max_queued_bytes;
  }

  void Accept() {
    while (true) {
      UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (fd.get() < 0) return;
      if (conns_.size() >= options_.max_connections) {
        const std::string refuse = absl::StrCat(
            "error 0 too many connections (the server's limit is ", options_.max_connections, ")\n");
        (void)!::send(fd.get(), refuse.data(), refuse.size(), MSG_NOSIGNAL);
        std::lock_guard<std::mutex> l(mu_);
        ++stats_.refused_connections;
        continue;
      }
      auto c = std::make_unique<Connection>();
      c->id = next_id_++;
      c->fd = std::move(fd);
      c->active = absl::Now();
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = c->id;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev);
      conns_[c->id] = std::move(c);
      std::lock_guard<std::mutex> l(mu_);
      ++stats_.connections;
      ++stats_.connections_total;
    }
  }

  void Close(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    if (it->second->watched) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
    conns_.erase(it);
    std::lock_guard<std::mutex> l(mu_);
    --stats_.connections;
  }

  // Reads what the client sent (up to a bound per call, so one client
  // cannot starve the others) and queues its complete lines.
  void Read(Connection& c) {
    if (!c.reading || c.eof) return;
    constexpr size_t kPerCall = 1 << 20;
    std::vector<Item> items;
    size_t got_total = 0;
    while (got_total < kPerCall) {
      // Into the thread's buffer, then only what came is added to the
      // connection's (growing c.in by a chunk would zero the chunk first).
      const ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), 0);
      if (n > 0) c.in.append(scratch_.data(), static_cast<size_t>(n));
      if (n == 0) {
        c.eof = true;  // a partial last line is dropped: it never ended
        break;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.eof = true;
        break;
      }
      got_total += static_cast<size_t>(n);
      c.active = absl::Now();
      Lines(c, &items);
      // Less than asked for: the socket had no more. Epoll (level-triggered)
      // reports what comes next; another recv now would only say EAGAIN,
      // a system call per event of a lock-step client.
      if (static_cast<size_t>(n) < scratch_.size()) break;
    }
    if (items.empty()) return;
    uint64_t bytes = 0;
    for (const Item& it : items) bytes += it.text.size();
    c.in_flight += items.size();
    {
      std::lock_guard<std::mutex> l(mu_);
      queued_bytes_ += bytes;
      for (Item& it : items) queue_.push_back(std::move(it));
    }
    queued_ = true;
  }

  void NotifyAppender() {
    if (!queued_) return;
    queued_ = false;
    cv_.notify_one();
  }

  // The complete lines of c.in, as items; a line over the limit is
  // answered with an error and skipped to its end.
  void Lines(Connection& c, std::vector<Item>* items) {
    size_t start = 0;
    while (true) {
      const size_t from = start + (start == 0 ? c.scanned : 0);
      const char* nl =
          static_cast<const char*>(std::memchr(c.in.data() + from, '\n', c.in.size() - from));
      if (nl == nullptr) {
        const size_t partial = c.in.size() - start;
        if (!c.skipping && partial > options_.max_line_bytes) {
          items->push_back(Refused(c, ++c.line, absl::StrCat(
              LineTooLong(options_.max_line_bytes), ": skipped")));
          c.skipping = true;
        }
        if (c.skipping) {
          c.in.clear();
          c.scanned = 0;
          return;
        }
        c.in.erase(0, start);
        c.scanned = c.in.size();
        return;
      }
      const size_t end = static_cast<size_t>(nl - c.in.data());
      absl::string_view text(c.in.data() + start, end - start);
      start = end + 1;
      if (c.skipping) {  // the end of a line already refused
        c.skipping = false;
        continue;
      }
      ++c.line;
      if (text.size() > options_.max_line_bytes) {
        items->push_back(Refused(c, c.line, absl::StrCat(
            LineTooLong(options_.max_line_bytes), ": skipped")));
        continue;
      }
      if (IsBlankLine(text)) continue;
      if (c.line == 1 && absl::StartsWith(text, "#")) {
        Hello(c, text, items);
        continue;
      }
      Item it;
      it.conn = c.id;
      it.line = c.line;
      it.durable = c.durable;
      // it.prepared.event is pointed at it.text once the item has its place.
      auto changed = PrepareIngested(c.no_redact ? nullptr : options_.redactor, text, &it.text, &it.prepared);
      if (!changed.ok()) {
        it.error = std::string(changed.status().message());
        it.text.clear();
      } else if (!*changed) {
        it.text = std::string(text);
      }
      items->push_back(std::move(it));
    }
  }

  Item Refused(const Connection& c, uint64_t line, std::string why) {
    Item it;
    it.conn = c.id;
    it.line = line;
    it.error = std::move(why);
    return it;
  }

  // "#tracelog <version> [sync=always]": answered with
  // "#tracelog <version> fsync=<policy>" (through the append thread, so in
  // order), or an error for a version this server does not speak.
  void Hello(Connection& c, absl::string_view text, std::vector<Item>* items) {
    std::vector<std::string> words = absl::StrSplit(Trim(text), ' ', absl::SkipEmpty());
    int version = 0;
    if (words.size() < 2 || words[0] != "#tracelog" || !absl::SimpleAtoi(words[1], &version) ||
        version != kServeProtocolVersion) {
      items->push_back(Refused(c, c.line, absl::StrCat(
          "unsupported hello '", Trim(text).substr(0, 80), "': this server speaks '#tracelog ",
          kServeProtocolVersion, "'")));
      return;
    }
    Item it;
    for (size_t k = 2; k < words.size(); ++k) {
      if (words[k] == "sync=always") c.durable = true;
      if (words[k] == "redact=off") c.no_redact = true;
      if (words[k] == "stats") it.stats = true;
    }
    it.conn = c.id;
    it.line = c.line;
    it.hello = true;
    items->push_back(std::move(it));
  }

  // Hands the answers the append thread made to their connections and
  // sends them, all connections' with one system call (BatchSender): each
  // wakes a client, and the thread is preempted at most once for all.
  void TakeAnswers() {
    std::vector<Answer> answers;
    {
      std::lock_guard<std::mutex> l(mu_);
      answers.swap(answers_);
    }
    std::vector<Connection*> answered, sending;
    for (Answer& a : answers) {
      auto it = conns_.find(a.conn);
      if (it == conns_.end()) continue;  // gone: its events are stored all the same
      Connection& c = *it->second;
      answered.push_back(&c);
      if (c.out_at == c.out.size()) sending.push_back(&c);  // else it waits for room (Flush)
      c.out.append(a.text);
      c.in_flight -= a.items;
    }
    // A connection answered by two batches is in `sending` once (its out
    // was empty before the first only).
    sends_.clear();
    for (Connection* c : sending) {
      sends_.push_back({c->fd.get(), absl::string_view(c->out).substr(c->out_at), 0});
    }
    sender_.SendAll(absl::MakeSpan(sends_));
    for (size_t i = 0; i < sending.size(); ++i) Sent(*sending[i], sends_[i].result);
    for (Connection* c : answered) {
      Rewatch(*c);
      Touch(*c);
    }
  }

  // Takes in what a send of c.out from c.out_at came to (bytes sent or
  // -errno). Returns whether to send again at once: part went and the rest
  // may go too, or the send was interrupted.
  bool Sent(Connection& c, ssize_t n) {
    bool more = false;
    if (n > 0) {
      c.out_at += static_cast<size_t>(n);
      c.active = absl::Now();
      more = c.out_at < c.out.size();
    } else if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK && n != -EINTR) {
      c.out_at = c.out.size();  // the client is gone: nothing to answer
      c.eof = true;
    }
    if (c.out_at == c.out.size()) {
      c.out.clear();
      c.out_at = 0;
    } else if (c.out_at > (1 << 20)) {
      c.out.erase(0, c.out_at);
      c.out_at = 0;
    }
    return more || n == -EINTR;
  }

  void Flush(Connection& c) {
    while (c.out_at < c.out.size()) {
      const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_at, c.out.size() - c.out_at,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (!Sent(c, n < 0 ? -errno : n)) break;
    }
  }

  // ---- the append thread ----

  void AppendLoop() {
    pthread_setname_np(pthread_self(), "tracelog-append");
    std::vector<Item> batch;
    std::vector<PreparedEvent> prepared;
    while (true) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return append_stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
        queue_.clear();
        appending_ = true;
      }
      uint64_t bytes = 0;
      for (const Item& it : batch) bytes += it.text.size();
      std::map<uint64_t, Answer> answers;
      Append(batch, &prepared, &answers);
      std::vector<Answer> out;
      for (auto& [id, a] : answers) out.push_back(std::move(a));
      {
        std::lock_guard<std::mutex> l(mu_);
        queued_bytes_ -= bytes;
        for (Answer& a : out) answers_.push_back(std::move(a));
        appending_ = false;
      }
      Wake();
      batch.clear();
    }
  }

  // Appends the events of `batch` (all connections') at once and writes
  // each item's answer into its connection's Answer, in order.
  void Append(std::vector<Item>& batch, std::vector<PreparedEvent>* prepared,
              std::map<uint64_t, Answer>* answers) {
    prepared->clear();
    bool durable = false;
    for (Item& it : batch) {
      if (it.hello || !it.error.empty()) continue;
      it.prepared.event = it.text;  // the text has its final place now
      prepared->push_back(std::move(it.prepared));
      durable = durable || it.durable;
    }
    AppendBatchResult r;
    if (!prepared->empty()) r = log_->AppendPrepared(absl::MakeConstSpan(*prepared));
    absl::Status sync;
    if (durable && r.status.ok() && r.appended > 0) {
      sync = log_->Sync();
      std::lock_guard<std::mutex> l(mu_);
      ++stats_.syncs;
    }
    size_t k = 0;  // index into *prepared
    uint64_t events = 0, bytes = 0, rejected = 0;
    for (Item& it : batch) {
      Answer& a = (*answers)[it.conn];
      a.conn = it.conn;
      ++a.items;
      if (it.hello) {
        absl::StrAppend(&a.text, "#tracelog ", kServeProtocolVersion, " fsync=",
                        log_->options().sync.ToString(), "\n");
        if (it.stats) {
          absl::StrAppend(&a.text, "#stats ",
                          options_.stats_json ? options_.stats_json()
                                              : absl::StrCat("{", ServerStatsJsonMembers(Stats()), "}"),
                          "\n");
        }
        continue;
      }
      if (!it.error.empty()) {
        absl::StrAppend(&a.text, "error ", it.line, " ", it.error, "\n");
        ++rejected;
        continue;
      }
      const size_t i = k++;
      if (i < r.appended && r.status.ok() && (!it.durable || sync.ok())) {
        EventKeys keys;
        DecodeKeys((*prepared)[i].keys, &keys);
        AppendAckLine(r.first_sequence + i, keys.event_id, &a.text);
        ++events;
        bytes += it.text.size();
      } else {
        const absl::Status& why = !r.status.ok() ? r.status : sync;
        absl::StrAppend(&a.text, "error ", it.line, " ",
                        i < r.appended ? "appended but not made durable: " : "not appended: ",
                        why.message(), "\n");
        ++rejected;
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    if (!prepared->empty()) ++stats_.batches;
    stats_.events += events;
    stats_.bytes += bytes;
    stats_.rejected_lines += rejected;
  }

  Log* const log_;
  const ServerOptions options_;
  UniqueFd listen_, epoll_, wake_;
  std::atomic<bool> stopping_{false};
  // The connection thread's own.
  std::map<uint64_t, std::unique_ptr<Connection>> conns_;
  uint64_t next_id_ = 1;
  std::vector<char> scratch_ = std::vector<char>(256 << 10);  // Read's
  std::vector<uint64_t> touched_;  // connections to look at this turn (Touch)
  bool queued_ = false;            // Read queued items since NotifyAppender
  BatchSender sender_;                    // TakeAnswers'
  std::vector<BatchSender::Send> sends_;  // TakeAnswers'

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable cv_;
  std::deque<Item> queue_;
  uint64_t queued_bytes_ = 0;
  bool appending_ = false;
  std::vector<Answer> answers_;
  ServerStats stats_;
  bool stopped_ = false, append_stop_ = false;
  absl::Time drain_deadline_ = absl::InfiniteFuture();

  std::thread io_thread_, append_thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Log* log, ServerOptions options) {
  auto server = std::make_unique<ServerImpl>(log, std::move(options));
  if (auto s = server->Init(); !s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

std::string LineTooLong(size_t max_line_bytes) {
  return absl::StrCat("line longer than the server's limit of ", max_line_bytes, " bytes");
}

std::string ServerStatsJsonMembers(const ServerStats& s) {
  return absl::StrCat("\"connections\":", s.connections, ",\"connections_total\":",
                      s.connections_total, ",\"refused_connections\":", s.refused_connections,
                      ",\"events\":", s.events, ",\"bytes\":", s.bytes, ",\"rejected_lines\":",
                      s.rejected_lines, ",\"batches\":", s.batches, ",\"client_syncs\":", s.syncs,
                      ",\"blocked_micros\":", s.blocked_micros,
                      ",\"batched_sends\":", s.batched_sends ? "true" : "false");
}

}  // namespace tracelog
