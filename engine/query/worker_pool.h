#ifndef TRACELOG_ENGINE_QUERY_WORKER_POOL_H_
#define TRACELOG_ENGINE_QUERY_WORKER_POOL_H_

// A few threads that help the calling thread through a list of independent
// items (the blocks a query decompresses). The caller always works too, so
// a pool of one thread is the caller alone; when another caller is using
// the pool, the second one works alone rather than wait.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tracelog {

class WorkerPool {
 public:
  // `threads` counts the caller: `threads - 1` helper threads are started on
  // the first Run that has more than one item.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The number of workers a Run may use (caller included): worker ids passed
  // to `fn` are below it.
  int size() const { return threads_; }

  // Calls fn(item, worker) for every item in [0, n), on the caller (worker
  // 0) and the helpers; returns when all calls have returned.
  void Run(size_t n, const std::function<void(size_t item, int worker)>& fn);

 private:
  void Loop(int id);
  void Drain(int id);

  const int threads_;
  std::vector<std::thread> helpers_;
  std::mutex run_mu_;  // one Run at a time uses the helpers
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // Guarded by mu_:
  uint64_t generation_ = 0;  // of the latest job
  bool open_ = false;        // helpers may still join the current job
  int active_ = 0;           // helpers working on it
  bool stop_ = false;
  const std::function<void(size_t, int)>* fn_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_WORKER_POOL_H_
