#!/usr/bin/env bash
# check_thread_safety.sh [BUILD_DIR]: compiles every engine source with
# clang's thread-safety analysis as errors (-Werror=thread-safety), syntax
# only. Members are ABSL_GUARDED_BY their mutex and functions that need a
# lock ABSL_EXCLUSIVE_LOCKS_REQUIRED it (engine/port/mutex.h); g++ ignores
# the annotations, so this is what checks them. Part of the README's test
# command (tools/dev.sh test). Needs clang-14.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
cd "$root"
cxx=${CLANGXX:-clang++-14}
find engine -name '*.cc' -print0 | sort -z |
  xargs -0 -n 4 -P "$(nproc)" "$cxx" -std=c++20 -fsyntax-only -march=haswell \
    -I"$root" -I"$build/generated" -Wthread-safety -Werror=thread-safety -Wno-unused-command-line-argument
echo "check_thread_safety: OK"
