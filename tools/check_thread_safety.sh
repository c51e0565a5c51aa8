#!/usr/bin/env bash
# check_thread_safety.sh [BUILD_DIR]: compiles the engine sources that use
# annotated locks (those that mention an ABSL_ lock annotation or include a
# header that declares annotated members) with clang's thread-safety
# analysis as errors (-Werror=thread-safety), syntax only. Members are ABSL_GUARDED_BY their mutex and functions that need a
# lock ABSL_EXCLUSIVE_LOCKS_REQUIRED it (engine/port/mutex.h); g++ ignores
# the annotations, so this is what checks them. Part of the README's test
# command (tools/dev.sh test). Needs clang-14.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
cd "$root"
cxx=${CLANGXX:-clang++-14}
grep -rlZ --include='*.cc' -E \
    'ABSL_(GUARDED_BY|EXCLUSIVE|SHARED|LOCKABLE|SCOPED|NO_THREAD)|engine/port/(mutex|adaptive_mutex)\.h|engine/log/(log_impl|segment_set|log_reader)\.h|engine/http/http_internal\.h' \
    engine | sort -z |
  xargs -0 -n 4 -P "$(nproc)" "$cxx" -std=c++20 -fsyntax-only -march=haswell \
    -I"$root" -I"$build/generated" -Wthread-safety -Werror=thread-safety -Wno-unused-command-line-argument
echo "check_thread_safety: OK"
