#ifndef TRACELOG_ENGINE_IO_MAPPED_READ_GUARD_H_
#define TRACELOG_ENGINE_IO_MAPPED_READ_GUARD_H_

// Reading a memory-mapped file can fault: an I/O error on a page, or a file
// shortened under its mapping, is SIGBUS, which would kill the process. A
// damaged log must never crash a reader, so reads of mapped pages that may
// fault go through these guards, which turn the signal into a failure the
// caller reports (file and offset) like any damage.
//
// How: a SIGBUS handler, installed on first use, jumps back (siglongjmp)
// into the guard that was running on the faulting thread. A SIGBUS outside
// any guard still kills the process, as it would have without the handler.
// Because the jump skips whatever ran between the guard and the fault, the
// guarded code must only read memory: no allocation, no lock, no object
// with a destructor.

#include <cstddef>

namespace tracelog {

// Runs fn(arg); false if it touched a page that could not be read.
bool GuardMappedRead(void (*fn)(void*), void* arg);

template <typename F>
bool GuardMappedRead(F&& f) {
  return GuardMappedRead([](void* p) { (*static_cast<F*>(p))(); }, &f);
}

// The offset of the first page of [p, p + n) that cannot be read, or n if
// every one can. Reads one byte per page (so it pays the page faults a
// read of the range would).
size_t FirstUnreadable(const char* p, size_t n);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_MAPPED_READ_GUARD_H_
