#!/usr/bin/env bash
# tracelog developer entry point: installs what is missing, builds, and runs.
#
#   tools/dev.sh demo    install deps, build, record a sample fleet workload into
#                        ./.tracelog-demo, show what was stored, seal it,
#                        and query it
#   tools/dev.sh test    check that no #include looks up a layer
#                        (tools/check_layers.sh), install deps, build (incl.
#                        sanitizer variants and the libFuzzer targets),
#                        check the lock annotations with clang
#                        (tools/check_thread_safety.sh), run CTest: the
#                        suites, a short
#                        crash-torture run, ~10 s of fuzzing per target
#   tools/dev.sh build   install deps and build only
#
# Idempotent: a second run only rebuilds what changed. Build tree: ./build
# (override with BUILD_DIR). Needs Debian 12; uses sudo when not root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

PACKAGES=(cmake g++ make pkg-config libabsl-dev libzstd-dev libxxhash-dev libsimdjson-dev
          libcli11-dev libre2-dev libcpp-httplib-dev libhyperscan-dev liburing-dev curl python3 libgtest-dev libgmock-dev libbenchmark-dev zstd
          clang-14 libclang-rt-14-dev)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# build [TARGET...]: configure once, then build the given targets (default: all).
build() {
  install_deps
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}" -- --no-print-directory
}

demo() {
  build tracelog
  local bin="$BUILD_DIR/tools/tracelog" log=.tracelog-demo
  rm -rf "$log" "$BUILD_DIR/demo-fleet.ndjson"
  echo "== generating a fleet workload: 12 agents, 300 sessions (seed 7)"
  "$bin" gen --agents 12 --sessions 300 --seed 7 --out "$BUILD_DIR/demo-fleet.ndjson"
  echo "== recording it into $log (fsync policy: interval:100)"
  "$bin" append --log "$log" --fsync interval:100 < "$BUILD_DIR/demo-fleet.ndjson"
  echo "== tracelog info"
  "$bin" info --log "$log"
  echo "== tracelog verify"
  "$bin" verify --log "$log"
  echo "== the first 3 stored events (tracelog dump --limit 3)"
  "$bin" dump --log "$log" --limit 3 | cut -c1-200
  echo "== sealing it (zstd blocks clustered by session, with an index): tracelog seal"
  "$bin" seal --log "$log"
  # Secrets were replaced (the generator writes lines such as
  # `sadorver_token = 287704`): every other event is stored byte for byte.
  "$bin" dump --log "$log" > "$BUILD_DIR/demo-dump.ndjson"
  local redacted
  redacted=$(grep -c ',"redacted":true}$' "$BUILD_DIR/demo-dump.ndjson" || true)
  if [ "$(wc -l < "$BUILD_DIR/demo-dump.ndjson")" -eq "$(wc -l < "$BUILD_DIR/demo-fleet.ndjson")" ] &&
     awk 'NR == FNR { want[FNR] = $0; next }
          !/,"redacted":true}$/ && $0 != want[FNR] { bad = 1 }
          END { exit bad }' "$BUILD_DIR/demo-fleet.ndjson" "$BUILD_DIR/demo-dump.ndjson"; then
    echo "== dump (after sealing) is byte-identical to the recorded NDJSON but for"
    echo "   the $redacted events whose secrets were replaced (marked \"redacted\":true)"
  else
    echo "== MISMATCH between dump and input" >&2
    exit 1
  fi
  echo "== tracelog query --tool Bash --error --count (from the index)"
  "$bin" query --log "$log" --tool Bash --error --count
  echo "== the session catalog (tracelog sessions | head -4)"
  "$bin" sessions --log "$log" | head -4
}

# The libFuzzer targets need clang: a build tree of their own, next to
# the main one (tests/fuzz/CMakeLists.txt).
build_fuzz() {
  local dir="$BUILD_DIR-fuzz"
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
      -DTRACELOG_FUZZ=ON >/dev/null
  fi
  cmake --build "$dir" -j "$JOBS" -- --no-print-directory
}

run_tests() {
  tools/check_layers.sh
  build
  tools/check_thread_safety.sh "$BUILD_DIR"
  build_fuzz
  ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure --timeout 600
  (cd "$BUILD_DIR-fuzz" && ctest -j "$JOBS" --output-on-failure --timeout 300)
}

case "${1:-}" in
  demo) demo ;;
  test) run_tests ;;
  build) build ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
