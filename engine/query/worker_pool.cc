#include "engine/query/worker_pool.h"

#include <pthread.h>

#include <algorithm>

namespace tracelog {

WorkerPool::WorkerPool(int threads) : threads_(std::max(threads, 1)) {}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : helpers_) t.join();
}

void WorkerPool::Run(size_t n, const std::function<void(size_t, int)>& fn) {
  std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
  if (threads_ == 1 || n < 2 || !run.owns_lock()) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (helpers_.empty()) {
      for (int id = 1; id < threads_; ++id) helpers_.emplace_back([this, id] { Loop(id); });
    }
    fn_ = &fn;
    n_ = n;
    next_.store(0, std::memory_order_relaxed);
    open_ = true;
    ++generation_;
  }
  work_cv_.notify_all();
  Drain(0);
  // Wait only for the helpers that joined in: one that wakes up after the
  // work is gone is not waited for.
  std::unique_lock<std::mutex> l(mu_);
  open_ = false;
  done_cv_.wait(l, [&] { return active_ == 0; });
  fn_ = nullptr;
}

void WorkerPool::Drain(int id) {
  for (size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n_;) (*fn_)(i, id);
}

void WorkerPool::Loop(int id) {
  pthread_setname_np(pthread_self(), "tracelog-query");
  uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      work_cv_.wait(l, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (!open_) continue;
      ++active_;
    }
    Drain(id);
    std::lock_guard<std::mutex> l(mu_);
    if (--active_ == 0) done_cv_.notify_one();
  }
}

}  // namespace tracelog
