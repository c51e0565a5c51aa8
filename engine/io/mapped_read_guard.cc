#include "engine/io/mapped_read_guard.h"

#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>

namespace tracelog {

namespace {

// The guard running on this thread (innermost), or null. Static TLS of the
// executable: safe to read in a signal handler.
thread_local sigjmp_buf* tls_guard = nullptr;
struct sigaction g_previous;

void OnSigbus(int sig, siginfo_t* info, void* context) {
  if (sigjmp_buf* guard = tls_guard; guard != nullptr) {
    tls_guard = nullptr;
    siglongjmp(*guard, 1);  // SA_NODEFER: the signal mask is as it was
  }
  // Not a guarded read: behave as if this handler were not there. The
  // faulting access runs again on return and meets the previous action
  // (by default: the process dies, with a core).
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
      g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
    return;
  }
  signal(SIGBUS, SIG_DFL);
}

void Install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

}  // namespace

bool GuardMappedRead(void (*fn)(void*), void* arg) {
  Install();
  sigjmp_buf env;
  sigjmp_buf* const outer = tls_guard;
  if (sigsetjmp(env, 0) != 0) {
    tls_guard = outer;
    return false;
  }
  tls_guard = &env;
  fn(arg);
  tls_guard = outer;
  return true;
}

size_t FirstUnreadable(const char* p, size_t n) {
  static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // Where the walk is, kept in memory across the jump.
  volatile size_t at = 0;
  struct Walk {
    const char* p;
    size_t n;
    volatile size_t* at;
  } walk{p, n, &at};
  const bool all = GuardMappedRead(
      [](void* w) {
        Walk& k = *static_cast<Walk*>(w);
        const uintptr_t base = reinterpret_cast<uintptr_t>(k.p);
        size_t i = 0;
        while (i < k.n) {
          *k.at = i;
          (void)*static_cast<const volatile char*>(k.p + i);
          // The next page boundary.
          i = ((base + i) / kPage + 1) * kPage - base;
        }
      },
      &walk);
  return all ? n : at;
}

}  // namespace tracelog
