#ifndef TRACELOG_BENCH_BENCH_UTIL_H_
#define TRACELOG_BENCH_BENCH_UTIL_H_

// Shared inputs for the benchmarks: pre-generated workload events, fixed-size
// 700-byte events (the size of real agent events), and a scratch directory on
// the same disk as the log would be ($TRACELOG_BENCH_DIR, default /tmp).

#include <cstdint>
#include <string>
#include <vector>

namespace tracelog::bench {

// Events from the fleet workload generator (seed 1), generated once.
const std::vector<std::string>& WorkloadEvents();
// The same events as one NDJSON buffer ("\n"-terminated lines).
const std::string& WorkloadNdjson();
// n events of exactly `size` bytes each, valid agent events, distinct.
std::vector<std::string> FixedSizeEvents(size_t n, size_t size);
// A fresh empty directory for one benchmark run.
std::string FreshDir(const std::string& name);
// Opens (creates, truncates; 0600) the file at `path` for reading and
// writing, reserves `bytes` with posix_fallocate (blocks left unwritten on
// ext4/XFS, as a segment's), writes zeros over them first if `zeroed`, and
// fdatasyncs it: the descriptor, or -1 if any step failed.
int PreallocatedFile(const std::string& path, uint64_t bytes, bool zeroed);

}  // namespace tracelog::bench

#endif  // TRACELOG_BENCH_BENCH_UTIL_H_
