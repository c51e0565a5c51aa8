#!/usr/bin/env bash
# check_layers.sh [SOURCE_DIR]: fails (exit 1) on an #include that looks up.
#
# The engine's folders are layers, lowest first:
#   port, format, io -> redact, segment -> seal -> log -> query -> ndjson -> workload, server -> http
# A file may include its own folder and the layers below it, never one above
# and never one beside it on the same level (format and io; redact and segment). engine/ includes
# nothing of tools/, tests/ or bench/; nothing outside bench/ includes bench/.
# Part of the README's test command (tools/dev.sh test).
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

declare -A rank=([port]=0 [format]=1 [io]=1 [redact]=2 [segment]=2 [seal]=3 [log]=4 [query]=5
                 [ndjson]=6 [workload]=7 [server]=7 [http]=8)
bad=0
report() {
  echo "check_layers: $1" >&2
  bad=1
}

# Every quoted include of the project's own headers, as file:line:folder/...
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  target=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$rest")
  case "$file" in
    engine/*)
      from=$(cut -d/ -f2 <<<"$file")
      case "$target" in
        engine/*)
          to=$(cut -d/ -f2 <<<"$target")
          [ "$from" = "$to" ] && continue
          if [ -z "${rank[$from]:-}" ] || [ -z "${rank[$to]:-}" ]; then
            report "$file:$line: includes $target: engine/$from or engine/$to is not a known layer (add it to tools/check_layers.sh)"
          elif [ "${rank[$to]}" -ge "${rank[$from]}" ]; then
            report "$file:$line: engine/$from includes $target, which is not below it"
          fi
          ;;
        tools/* | tests/* | bench/*)
          report "$file:$line: the engine includes $target"
          ;;
      esac
      ;;
    bench/*) ;;
    *)
      case "$target" in
        bench/*) report "$file:$line: only bench/ may include $target" ;;
      esac
      ;;
  esac
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"(engine|tools|tests|bench)/' \
           --include='*.h' --include='*.cc' engine tools tests bench || true)

if [ "$bad" -ne 0 ]; then
  echo "check_layers: FAILED (layers: port, format, io -> redact, segment -> seal -> log -> query -> ndjson -> workload, server -> http)" >&2
  exit 1
fi
echo "check_layers: OK"
