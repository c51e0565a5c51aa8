#!/usr/bin/env bash
# smoke.sh BINARY NAME SECONDS: one fuzz target's CTest run. Replays every
# kept input of tests/fuzz/regressions/NAME (each a crash once found and
# fixed), then fuzzes for SECONDS from the seeds: the spec's test vectors
# for NAME and tests/fuzz/corpus/NAME. A crash leaves its input in
# ./fuzz-artifacts/ (under the build tree) and fails the test.
set -euo pipefail
bin=$1 name=$2 seconds=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vectors=$here/../../format-spec/vectors

# The bytes of a vector: hex pairs, `#` to the end of a line is a comment.
hex_to_bin() { sed -e 's/#.*//' "$1" | tr -d ' \n' | sed 's/../\\x&/g' | xargs -0 printf '%b'; }

case $name in
  segment) seeds="segment_header.hex+record.hex" ;;
  sealed) seeds="sealed_segment.hex" ;;
  index) seeds="index.hex" ;;
  checkpoint) seeds="checkpoint.hex lease.hex gap.hex segment_header.hex" ;;
  attach) seeds="attach.hex" ;;
  stats_cache) seeds="stats_cache.hex" ;;
  catalog_cache) seeds="catalog_cache.hex" ;;
  *) seeds="" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" fuzz-artifacts
i=0
for seed in $seeds; do
  i=$((i + 1))
  for part in ${seed//+/ }; do hex_to_bin "$vectors/$part"; done > "$work/corpus/vector-$i"
done
# Targets that recompute checksums for inputs starting with `!`
# (fuzz_util.h): the vectors in that form too.
case $name in
  sealed|index)
    for v in "$work/corpus"/vector-*; do { printf '!'; cat "$v"; } > "${v/vector-/fixed-}"; done ;;
esac
[ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$work/corpus/" 2>/dev/null || true

# campaign.sh asks for the seeds alone, in a directory of its own.
if [ -n "${SMOKE_SEEDS_ONLY:-}" ]; then
  cp "$work/corpus"/* "$SMOKE_SEEDS_ONLY"/ 2>/dev/null || true
  [ -d "$here/regressions/$name" ] && cp "$here/regressions/$name"/* "$SMOKE_SEEDS_ONLY"/ 2>/dev/null
  exit 0
fi

if [ -d "$here/regressions/$name" ] && [ -n "$(ls -A "$here/regressions/$name")" ]; then
  echo "== $name: replaying $(ls "$here/regressions/$name" | wc -l) kept regression inputs"
  "$bin" -rss_limit_mb=2048 "$here/regressions/$name"/*
fi
echo "== $name: fuzzing for ${seconds}s from $(ls "$work/corpus" | wc -l) seeds"
exec "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix=fuzz-artifacts/"$name"- "$work/corpus"
