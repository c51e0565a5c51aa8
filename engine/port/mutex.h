#ifndef TRACELOG_ENGINE_PORT_MUTEX_H_
#define TRACELOG_ENGINE_PORT_MUTEX_H_

// Mutexes that clang's thread-safety analysis (-Wthread-safety) understands:
// libstdc++'s std::mutex and std::lock_guard carry no annotations. Members
// are declared ABSL_GUARDED_BY(mu_), functions that need a lock
// ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_), and tools/check_thread_safety.sh
// compiles the engine with the analysis as errors.
//
//   Mutex mu_;
//   int n_ ABSL_GUARDED_BY(mu_);
//   { MutexLock l(&mu_); ++n_; }

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace tracelog {

// std::mutex, annotated. BasicLockable (lock/unlock), so std::lock_guard
// works too, though only the guards below tell the analysis.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

  // Waits on `cv` until `done()` holds, releasing the mutex meanwhile.
  template <typename Pred>
  void Wait(std::condition_variable* cv, Pred done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> l(mu_, std::adopt_lock);
    cv->wait(l, done);
    l.release();
  }
  // Waits on `cv` until `done()` holds or `timeout` passes; returns done().
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(std::condition_variable* cv, std::chrono::duration<Rep, Period> timeout,
               Pred done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> l(mu_, std::adopt_lock);
    const bool ok = cv->wait_for(l, timeout, done);
    l.release();
    return ok;
  }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope; may let it go early (Unlock) and take it again
// (Lock). For Mutex and AdaptiveMutex.
template <typename M>
class ABSL_SCOPED_LOCKABLE LockGuard {
 public:
  explicit LockGuard(M* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->lock(); }
  ~LockGuard() ABSL_UNLOCK_FUNCTION() {
    if (locked_) mu_->unlock();
  }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_->unlock();
    locked_ = false;
  }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_->lock();
    locked_ = true;
  }

 private:
  M* const mu_;
  bool locked_ = true;
};

using MutexLock = LockGuard<Mutex>;

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_PORT_MUTEX_H_
