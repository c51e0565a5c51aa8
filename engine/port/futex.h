#ifndef TRACELOG_ENGINE_PORT_FUTEX_H_
#define TRACELOG_ENGINE_PORT_FUTEX_H_

// Sleep on / wake a 32-bit word directly with futex(2). std::atomic::wait in
// libstdc++ 12 spins with sched_yield first, which on two cores shared by
// many appenders burns the CPU the syncing thread needs.

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tracelog {

// Sleeps while *word == seen (or until woken; spurious wake-ups happen).
inline void FutexWait(std::atomic<uint32_t>* word, uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, nullptr,
          nullptr, 0);
}

// FutexWait, for at most `timeout`.
inline void FutexWaitFor(std::atomic<uint32_t>* word, uint32_t seen,
                         std::chrono::nanoseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
              static_cast<long>(timeout.count() % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr,
          0);
}

// Wakes up to `count` threads sleeping on `word`.
inline void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_PORT_FUTEX_H_
