// tracelog serve: many clients over the Unix socket against the same events
// appended in-process by one thread (the baseline), in the same binary.
// Events are 700 bytes. Issue 16's targets: 64 pipelining clients under
// interval:100 reach >= 50 % of the in-process rate; 64 clients under
// `always` that each wait for their answer before sending the next event
// reach >= 15x one such client.

#include <benchmark/benchmark.h>
#include <httplib.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "engine/log/log.h"
#include "engine/http/http_server.h"
#include "engine/io/unique_fd.h"
#include "engine/server/client.h"
#include "engine/server/server.h"

namespace tracelog::bench {
namespace {

constexpr size_t kEventSize = 700;

const std::vector<std::string>& Events() {
  static const auto* e = new std::vector<std::string>(FixedSizeEvents(4096, kEventSize));
  return *e;
}

// The same events with their newline, made once: a lock-step client sends
// each without building it (64 client threads allocating per event
// contended for malloc's arenas, which both the server and the echo
// ceiling paid).
const std::vector<std::string>& Lines() {
  static const auto* lines = [] {
    auto* v = new std::vector<std::string>();
    for (const std::string& e : Events()) v->push_back(e + "\n");
    return v;
  }();
  return *lines;
}

std::unique_ptr<Log> OpenFresh(const std::string& name, SyncPolicy policy,
                               uint64_t zero_ahead_bytes = LogTuning{}.zero_ahead_bytes) {
  LogOptions o;
  o.sync = policy;
  o.tuning.zero_ahead_bytes = zero_ahead_bytes;
  auto log = Log::Open(FreshDir(name), o);
  if (!log.ok()) std::abort();
  return std::move(*log);
}

bool SendAll(int fd, const std::string& bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

// How a client waits for its answers: in ReadFromServer (poll, then recv:
// tracelog's client) or blocked in recv (a client that wakes again each
// time the server reads what it sent; engine/server/client.h).
enum class Wait { kPoll, kRecv };

// Reads until `lines` answer lines have come.
bool ReadAnswers(int fd, size_t lines, Wait wait) {
  char buf[65536];
  size_t seen = 0;
  while (seen < lines) {
    ssize_t n;
    if (wait == Wait::kPoll) {
      auto got = ReadFromServer(fd, buf, sizeof(buf), "the server");
      n = got.ok() ? static_cast<ssize_t>(*got) : -1;
    } else {
      n = ::recv(fd, buf, sizeof(buf), 0);
    }
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) seen += buf[i] == '\n';
  }
  return true;
}

// Baseline: one thread appends the events in-process, the same policy.
void BM_Serve_InProcessAppendBaseline(benchmark::State& state) {
  auto log = OpenFresh("serve-base", SyncPolicy{SyncPolicy::Kind::kInterval, 100});
  const auto& events = Events();
  size_t i = 0;
  for (auto _ : state) {
    if (!log->Append(events[i++ & 4095]).ok()) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kEventSize));
}
BENCHMARK(BM_Serve_InProcessAppendBaseline)->MinTime(2)->UseRealTime();

// `clients` connections, each sending `per_client` events; pipelined (all
// sent, then the answers read, on a thread of their own) or lock-step (each
// event's answer read before the next is sent). Returns the events sent.
uint64_t RunClients(const std::string& socket, int clients, int per_client, bool lockstep,
                    Wait wait = Wait::kPoll) {
  std::vector<std::thread> threads;
  std::atomic<uint64_t> done{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto fd = ConnectToServer(socket);
      if (!fd.ok()) return;
      const auto& events = Events();
      if (lockstep) {
        const auto& lines = Lines();
        for (int i = 0; i < per_client; ++i) {
          if (!SendAll(fd->get(), lines[(c * 131 + i) & 4095]) || !ReadAnswers(fd->get(), 1, wait)) return;
          done.fetch_add(1);
        }
        return;
      }
      std::thread reader([&] {
        if (ReadAnswers(fd->get(), per_client, wait)) done.fetch_add(per_client);
      });
      std::string batch;
      for (int i = 0; i < per_client; ++i) {
        batch += events[(c * 131 + i) & 4095];
        batch += '\n';
        if (batch.size() >= (256 << 10)) {
          if (!SendAll(fd->get(), batch)) break;
          batch.clear();
        }
      }
      SendAll(fd->get(), batch);
      reader.join();
    });
  }
  for (auto& t : threads) t.join();
  return done.load();
}

void ServeBenchmark(benchmark::State& state, SyncPolicy policy, bool lockstep, int per_client,
                    bool batch_sends = true, Wait wait = Wait::kPoll,
                    uint64_t zero_ahead_bytes = LogTuning{}.zero_ahead_bytes) {
  const int clients = static_cast<int>(state.range(0));
  auto log = OpenFresh("serve", policy, zero_ahead_bytes);
  Lines();  // the events are made before the clock runs
  ServerOptions o;
  o.socket_path = log->dir() + "/serve.sock";
  o.batch_sends = batch_sends;
  auto server = Server::Start(log.get(), o);
  if (!server.ok()) {
    state.SkipWithError(std::string(server.status().message()).c_str());
    return;
  }
  uint64_t events = 0;
  for (auto _ : state) events += RunClients(o.socket_path, clients, per_client, lockstep, wait);
  (*server)->Stop();
  const ServerStats st = (*server)->Stats();
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(events * kEventSize));
  state.counters["batched_sends"] = st.batched_sends ? 1 : 0;
  state.counters["events_per_batch"] =
      st.batches > 0 ? static_cast<double>(st.events) / static_cast<double>(st.batches) : 0;
}

void BM_Serve_Pipelined_Interval100(benchmark::State& state) {
  ServeBenchmark(state, SyncPolicy{SyncPolicy::Kind::kInterval, 100}, false, 4000);
}
BENCHMARK(BM_Serve_Pipelined_Interval100)->Arg(64)->Iterations(3)->UseRealTime();

// Under `always` a batch is one fdatasync: events_per_batch is events per sync.
void BM_Serve_Lockstep_Always(benchmark::State& state) {
  ServeBenchmark(state, SyncPolicy{SyncPolicy::Kind::kAlways, 0}, true,
                 state.range(0) == 1 ? 2000 : 400);
}
BENCHMARK(BM_Serve_Lockstep_Always)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();

// The same with one send(2) per answer instead of one io_uring submission
// for a batch's answers (ServerOptions::batch_sends): what batching gives.
void BM_Serve_Lockstep_Always_SendEach(benchmark::State& state) {
  ServeBenchmark(state, SyncPolicy{SyncPolicy::Kind::kAlways, 0}, true,
                 state.range(0) == 1 ? 2000 : 400, /*batch_sends=*/false);
}
BENCHMARK(BM_Serve_Lockstep_Always_SendEach)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();

// The same with clients that wait for each answer blocked in recv(2).
void BM_Serve_Lockstep_Always_RecvClients(benchmark::State& state) {
  ServeBenchmark(state, SyncPolicy{SyncPolicy::Kind::kAlways, 0}, true,
                 state.range(0) == 1 ? 2000 : 400, /*batch_sends=*/true, Wait::kRecv);
}
BENCHMARK(BM_Serve_Lockstep_Always_RecvClients)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();

// The same without zeros written ahead (LogTuning::zero_ahead_bytes = 0):
// every sync also commits the conversion of the unwritten blocks written.
void BM_Serve_Lockstep_Always_NoZeroAhead(benchmark::State& state) {
  ServeBenchmark(state, SyncPolicy{SyncPolicy::Kind::kAlways, 0}, true,
                 state.range(0) == 1 ? 2000 : 400, /*batch_sends=*/true, Wait::kPoll,
                 /*zero_ahead_bytes=*/0);
}
BENCHMARK(BM_Serve_Lockstep_Always_NoZeroAhead)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();

// A stand-in server for the ceilings of lock-step clients, with the same
// clients and events as BM_Serve_Lockstep_Always. Without a file it is an
// echo server: an epoll thread answers every line at once ("1 x"). With
// one it has the serve architecture without the log: the epoll thread
// hands what it read to a sync thread, which writes everything that
// arrived meanwhile at the file's end (one pwrite) and fdatasyncs it (group
// commit, the file preallocated as a segment is), then has the lines
// answered; no parsing, records, index or checksums.
class CeilingServer {
 public:
  CeilingServer(const std::string& socket, const std::string& file, bool prezero) {
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
    ok_ = ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::listen(listener_.get(), 512) == 0;
    if (!file.empty()) {
      file_ = UniqueFd(PreallocatedFile(file, kFileBytes, prezero));
      ok_ = ok_ && file_.get() >= 0;
      wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      sync_thread_ = std::thread([this] { SyncLoop(); });
    }
    io_thread_ = std::thread([this] { IoLoop(); });
  }
  ~CeilingServer() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (sync_thread_.joinable()) sync_thread_.join();
    io_thread_.join();
  }
  bool ok() const { return ok_; }

 private:
  void IoLoop() {
    UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    for (int fd : {listener_.get(), wake_.get()}) {
      if (fd < 0) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
    }
    std::vector<UniqueFd> conns;
    std::vector<epoll_event> events(256);
    char buf[65536];
    while (true) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stop_) return;
      }
      const int n = ::epoll_wait(ep.get(), events.data(), static_cast<int>(events.size()), 50);
      bool queued = false;
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_.get()) {
          int c;
          while ((c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            epoll_event cev{};
            cev.events = EPOLLIN;
            cev.data.fd = c;
            ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c, &cev);
            conns.emplace_back(c);
          }
          continue;
        }
        if (fd == wake_.get()) {
          uint64_t v;
          while (::read(wake_.get(), &v, sizeof(v)) > 0) {
          }
          std::vector<std::pair<int, int>> answers;
          {
            std::lock_guard<std::mutex> l(mu_);
            answers.swap(answers_);
          }
          for (auto [to, lines] : answers) {
            std::string out;
            for (int k = 0; k < lines; ++k) out += "1 x\n";
            SendAll(to, out);
          }
          continue;
        }
        const ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
        if (got <= 0) {
          ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
          continue;
        }
        int lines = 0;
        for (ssize_t k = 0; k < got; ++k) lines += buf[k] == '\n';
        if (file_.get() < 0) {
          std::string out;
          for (int k = 0; k < lines; ++k) out += "1 x\n";
          SendAll(fd, out);
          continue;
        }
        std::lock_guard<std::mutex> l(mu_);
        pending_.append(buf, static_cast<size_t>(got));
        pending_lines_.emplace_back(fd, lines);
        queued = true;
      }
      if (queued) cv_.notify_one();
    }
  }

  void SyncLoop() {
    std::string data;
    std::vector<std::pair<int, int>> lines;
    uint64_t offset = 0;
    while (true) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !pending_lines_.empty(); });
        if (stop_) return;
        data.swap(pending_);
        lines.swap(pending_lines_);
      }
      if (::pwrite(file_.get(), data.data(), data.size(), static_cast<off_t>(offset)) > 0) {
        offset += data.size();
      }
      ::fdatasync(file_.get());
      data.clear();
      {
        std::lock_guard<std::mutex> l(mu_);
        for (auto& a : lines) answers_.push_back(a);
      }
      lines.clear();
      const uint64_t one = 1;
      (void)!::write(wake_.get(), &one, sizeof(one));
    }
  }

  static constexpr uint64_t kFileBytes = 64 << 20;  // a segment's size
  bool ok_ = false;
  UniqueFd listener_, file_, wake_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string pending_;                             // read, not yet written
  std::vector<std::pair<int, int>> pending_lines_;  // (connection, lines) of it
  std::vector<std::pair<int, int>> answers_;        // synced, not yet answered
  std::thread io_thread_, sync_thread_;
};

enum class Ceiling { kEcho, kSyncFallocated, kSyncPrezeroed };

void CeilingBenchmark(benchmark::State& state, Ceiling ceiling) {
  const int clients = static_cast<int>(state.range(0));
  const bool sync = ceiling != Ceiling::kEcho;
  const std::string dir = FreshDir(sync ? "serve-sync-ceiling" : "serve-echo");
  Lines();  // made before the clock runs
  CeilingServer server(dir + "/ceiling.sock", sync ? dir + "/data" : "",
                       ceiling == Ceiling::kSyncPrezeroed);
  if (!server.ok()) {
    state.SkipWithError("ceiling server");
    return;
  }
  uint64_t events = 0;
  for (auto _ : state) {
    events += RunClients(dir + "/ceiling.sock", clients, clients == 1 ? 2000 : 400, true);
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}

// No log, no sync: what the machine's scheduler allows lock-step clients.
void BM_Serve_Lockstep_EchoCeiling(benchmark::State& state) {
  CeilingBenchmark(state, Ceiling::kEcho);
}
BENCHMARK(BM_Serve_Lockstep_EchoCeiling)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();

// Raw write + fdatasync behind the same two threads: what lock-step
// clients can reach when every answer waits for a group-committed sync.
// Into blocks posix_fallocate left unwritten (each sync also commits their
// conversion), and into blocks written with zeros beforehand (what the
// log's zero-ahead thread aims at, without its cost).
void BM_Serve_Lockstep_SyncCeiling_Fallocated(benchmark::State& state) {
  CeilingBenchmark(state, Ceiling::kSyncFallocated);
}
BENCHMARK(BM_Serve_Lockstep_SyncCeiling_Fallocated)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();
void BM_Serve_Lockstep_SyncCeiling_Prezeroed(benchmark::State& state) {
  CeilingBenchmark(state, Ceiling::kSyncPrezeroed);
}
BENCHMARK(BM_Serve_Lockstep_SyncCeiling_Prezeroed)->Arg(1)->Arg(64)->Iterations(2)->UseRealTime();

// HTTP: `clients` connections (keep-alive), each POSTing `bodies` bodies of
// 1,000 events to /v1/events, under interval:100 (the socket pipelined
// figure above is the comparison).
void BM_Serve_HttpPost1000_Interval100(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  constexpr int kBodies = 20, kPerBody = 1000;
  auto log = OpenFresh("serve-http", SyncPolicy{SyncPolicy::Kind::kInterval, 100});
  HttpOptions o;
  auto server = HttpServer::Start(log.get(), o);
  if (!server.ok()) {
    state.SkipWithError(std::string(server.status().message()).c_str());
    return;
  }
  const int port = (*server)->port();
  std::vector<std::string> bodies(clients);
  for (int c = 0; c < clients; ++c) {
    for (int i = 0; i < kPerBody; ++i) absl::StrAppend(&bodies[c], Events()[(c * 131 + i) & 4095], "\n");
  }
  uint64_t events = 0;
  for (auto _ : state) {
    std::atomic<uint64_t> done{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", port);
        for (int b = 0; b < kBodies; ++b) {
          auto res = client.Post("/v1/events", bodies[c], "application/x-ndjson");
          if (!res || res->status != 200) return;
          done.fetch_add(kPerBody);
        }
      });
    }
    for (auto& t : threads) t.join();
    events += done.load();
  }
  (*server)->Stop();
  if (events == 0) state.SkipWithError("no POST succeeded");
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(events * kEventSize));
}
BENCHMARK(BM_Serve_HttpPost1000_Interval100)->Arg(1)->Arg(8)->Iterations(3)->UseRealTime();

}  // namespace
}  // namespace tracelog::bench
