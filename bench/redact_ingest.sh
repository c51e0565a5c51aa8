#!/usr/bin/env bash
# redact_ingest.sh TRACELOG [RUNS] [SESSIONS]: `tracelog append` of the
# fleet workload (gen --sessions SESSIONS --seed 7, default 2000: ~250 MB,
# ~230 k events) under --fsync never, with redaction on and with
# --no-redact, alternating, RUNS times each (default 7). Each run appends
# to a fresh copy of a log made by one earlier append (so the redactor's
# compiled matchers are cached, as for any writer after the first) whose
# segments are 1 GiB: no segment rolls, so no background seal competes for
# the CPU and what is timed is the ingest path alone. Prints each run's
# wall and user seconds and the medians; the issue-17 target is on >= 0.75
# x off in throughput. Also runs the same on the workload without the
# events that hold something the rules replace (those whose text the quick
# test passes).
set -euo pipefail
T=${1:?usage: redact_ingest.sh TRACELOG [RUNS] [SESSIONS]}
RUNS=${2:-7}
SESSIONS=${3:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$T" gen --sessions "$SESSIONS" --seed 7 > "$tmp/all.ndjson"
# The events with no keyword before '=' or ':' (most of those the quick
# test lets pass without a parse).
grep -v -i -E '(password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|credentials?|cookie|session[_-]?key)(\s|\\[ntrbf])*[=:]' \
  "$tmp/all.ndjson" > "$tmp/clean.ndjson" || true
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
seg=$((1 << 30))
echo '{"a":1}' | "$T" append --log "$tmp/tpl-on" --segment-size "$seg" >/dev/null
echo '{"a":1}' | "$T" append --log "$tmp/tpl-off" --segment-size "$seg" --no-redact >/dev/null
for input in all clean; do
  : > "$tmp/t.on"; : > "$tmp/t.off"
  for _ in $(seq "$RUNS"); do
    rm -rf "$tmp/on" "$tmp/off"
    cp -a "$tmp/tpl-on" "$tmp/on"
    cp -a "$tmp/tpl-off" "$tmp/off"
    /usr/bin/time -f "%e %U" -a -o "$tmp/t.on" "$T" append --log "$tmp/on" --fsync never \
      --segment-size "$seg" < "$tmp/$input.ndjson"
    /usr/bin/time -f "%e %U" -a -o "$tmp/t.off" "$T" append --log "$tmp/off" --fsync never \
      --segment-size "$seg" --no-redact < "$tmp/$input.ndjson"
  done
  on=$(cut -d' ' -f1 "$tmp/t.on" | median); off=$(cut -d' ' -f1 "$tmp/t.off" | median)
  on_u=$(cut -d' ' -f2 "$tmp/t.on" | median); off_u=$(cut -d' ' -f2 "$tmp/t.off" | median)
  echo "$input: $(wc -c < "$tmp/$input.ndjson") bytes, $(wc -l < "$tmp/$input.ndjson") events, $RUNS runs each"
  echo "  redaction on:  wall/user $(awk '{printf "%s/%s ", $1, $2}' "$tmp/t.on")"
  echo "  redaction off: wall/user $(awk '{printf "%s/%s ", $1, $2}' "$tmp/t.off")"
  awk -v on="$on" -v off="$off" -v onu="$on_u" -v offu="$off_u" 'BEGIN {
    printf "  medians: on %.2f s (user %.2f), off %.2f s (user %.2f); throughput on/off %.2f (target >= 0.75), CPU off/on %.2f\n",
           on, onu, off, offu, off / on, offu / onu }'
done
