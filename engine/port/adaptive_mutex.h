#ifndef TRACELOG_ENGINE_PORT_ADAPTIVE_MUTEX_H_
#define TRACELOG_ENGINE_PORT_ADAPTIVE_MUTEX_H_

// A mutex that spins briefly before sleeping (glibc's
// PTHREAD_MUTEX_ADAPTIVE_NP). The log's append lock is held for a memcpy of
// one record; putting a waiting appender to sleep costs a futex system call
// each way, which on a virtual machine is far dearer than the critical
// section (bench/RESULTS.md, group commit). Satisfies Lockable;
// AdaptiveMutexLock holds it in a way clang's thread-safety analysis sees.
// ThreadSanitizer understands it (pthread).

#include <pthread.h>

#include "absl/base/thread_annotations.h"
#include "engine/port/mutex.h"

namespace tracelog {

class ABSL_LOCKABLE AdaptiveMutex {
 public:
  AdaptiveMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&mu_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~AdaptiveMutex() { pthread_mutex_destroy(&mu_); }
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;

  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { pthread_mutex_lock(&mu_); }
  void unlock() ABSL_UNLOCK_FUNCTION() { pthread_mutex_unlock(&mu_); }
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return pthread_mutex_trylock(&mu_) == 0; }

 private:
  pthread_mutex_t mu_;
};

using AdaptiveMutexLock = LockGuard<AdaptiveMutex>;

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_PORT_ADAPTIVE_MUTEX_H_
