#!/usr/bin/env bash
# campaign.sh BUILD_FUZZ_DIR [RUNS] [TARGET...]: the long fuzzing run
# (issue 14: at least 10 million executions per target), one target after
# the other on one core. Each starts from the seeds smoke.sh uses plus the
# corpus a previous campaign left in BUILD_FUZZ_DIR/campaign/NAME, and
# writes its log there (the last lines give executions, time and coverage).
# A crash stops that target and leaves its input in
# BUILD_FUZZ_DIR/campaign/NAME-crash-*: keep it in regressions/NAME once
# fixed.
set -uo pipefail
build=$(cd "$1" && pwd)
runs=${2:-10000000}
shift 2 || shift $#
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(segment sealed index checkpoint attach event_keys config query_time)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$build/campaign"
for name in "${targets[@]}"; do
  corpus=$build/campaign/$name
  mkdir -p "$corpus"
  # The seeds: what smoke.sh would start from.
  seeds=$(mktemp -d)
  (cd "$build" && SMOKE_SEEDS_ONLY="$seeds" "$here/smoke.sh" "$build/tests/fuzz/fuzz_$name" "$name" 0)
  start=$(date +%s)
  "$build/tests/fuzz/fuzz_$name" -runs="$runs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/campaign/$name-" "$corpus" "$seeds" \
    > "$build/campaign/$name.log" 2>&1
  rc=$?
  echo "$name: exit $rc, $(( $(date +%s) - start )) s, $(grep -E 'stat::number_of_executed_units' "$build/campaign/$name.log")"
  rm -rf "$seeds"
done
