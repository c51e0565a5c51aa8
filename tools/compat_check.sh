#!/bin/bash
# compat_check.sh WRITER READER_A READER_B: writes a log with the tracelog
# binary WRITER (appends with small segments, a directory import: sealed
# segments, a dictionary, an attachment pack), then reads a copy of it with
# each reader (verify, info, dump, queries, sessions, export) and compares
# what they print. Prints IDENTICAL, or the differences (exit 1). Used to
# check that a change leaves the on-disk format alone: build the previous
# commit's tracelog elsewhere and pass it as one of the binaries.
set -u
W=$(realpath "$1") R1=$(realpath "$2") R2=$(realpath "$3")
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cd "$D"
$W gen --sessions 120 --seed 11 --format dir --out src >/dev/null
$W gen --sessions 40 --seed 12 > more.ndjson
$W append --log log --segment-size 262144 < more.ndjson >/dev/null || echo "append failed"
$W import --log log src >/dev/null 2>&1 || echo "import failed"
$W gen --sessions 10 --seed 13 | $W append --log log >/dev/null || echo "append 2 failed"
i=0
for R in "$R1" "$R2"; do
  i=$((i + 1))
  n=r$i
  cp -a log c-$n
  {
    echo "== verify"; $R verify --log c-$n 2>&1 | sed "s/c-$n/LOG/g"
    echo "== info"; $R info --log c-$n 2>&1 | sed "s/c-$n/LOG/g"
    echo "== dump"; $R dump --log c-$n | sha256sum
    echo "== query type"; $R query --log c-$n --type tool_call | sha256sum
    echo "== query count"; $R query --log c-$n --type tool_call --count
    echo "== query tool err"; $R query --log c-$n --tool Bash --error | sha256sum
    echo "== sessions"; $R sessions --log c-$n | sha256sum
    echo "== export"; $R export --log c-$n ex-$n >/dev/null 2>&1
    (cd ex-$n && find . -type f | sort | xargs sha256sum) | sha256sum
    echo "== export holds src"
    for d in src/*; do diff -r "$d" "ex-$n/$(basename "$d")" >/dev/null || echo "differs: $d"; done
  } > out-$n.txt
done
echo "$(ls log | wc -l) files in the log; $(grep -c . out-r1.txt) lines compared"
if diff out-r1.txt out-r2.txt; then echo IDENTICAL; else exit 1; fi
