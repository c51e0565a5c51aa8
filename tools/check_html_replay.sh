#!/usr/bin/env bash
# check_html_replay.sh [TRACELOG]: opens `tracelog replay --format html` in headless
# Chromium and checks the page the browser built (its DOM), not the bytes written.
#
# It generates 3 sessions (gen --seed 4), imports them into a fresh log, takes the
# session with the most events, and checks that:
#   - the page's table has one row (<tr class="TYPE">) per event of the session, in the
#     order and with the types of `replay --format ndjson`;
#   - the page has the search box (input#q) and its script, and the title and heading
#     name the session;
#   - the page loads nothing: no element with src or href, no link, img, iframe, object
#     or embed, and the browser's Resource Timing lists no resource after the load (it
#     lists every http(s) fetch, failed ones too, so a script's fetch is caught as well);
#   - the search box works: a copy of the page with a small test script appended types
#     into it (an input event) and counts the rows left shown: none for a text found
#     nowhere, the session_end and error rows for their marker and type (typed in upper
#     case: the search ignores case), every row again for an empty box.
#
# TRACELOG defaults to build/tools/tracelog. Chromium is Debian's package:
#   apt-get install -y chromium
# Without it the check exits 77 (skipped). CHROMIUM=/path/to/chromium picks another
# binary; SCREENSHOT=/path/to/file.png also saves a screenshot of the page (1200x900).
# Run: tools/check_html_replay.sh [build/tools/tracelog]
# Prints "check_html_replay: OK (N events, chromium VERSION)"; exits 1 naming what differed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tracelog=${1:-$root/build/tools/tracelog}
[[ $tracelog == */* ]] || tracelog=$(command -v "$tracelog" || echo "$tracelog")
tracelog=$(realpath "$tracelog")

fail() {
  echo "check_html_replay: FAILED: $1" >&2
  exit 1
}

if [[ -n ${CHROMIUM:-} ]]; then
  chrome=$CHROMIUM
elif command -v chromium >/dev/null; then
  chrome=chromium
elif command -v chromium-browser >/dev/null; then
  chrome=chromium-browser
else
  echo "check_html_replay: skipped: chromium is not installed (Debian: apt-get install -y chromium;" \
    "or set CHROMIUM=/path/to/chromium)" >&2
  exit 77
fi
[[ -x $tracelog ]] || fail "no tracelog binary at $tracelog (build it, or pass its path)"
command -v python3 >/dev/null || fail "python3 is needed to read the DOM"
# Debian's launcher script may print a shell warning on stderr: only the version line.
version=$("$chrome" --version 2>/dev/null | awk '/[0-9]+\./ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\./) {print $i; exit}}')
[[ -n $version ]] || fail "'$chrome --version' printed no version"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$tracelog" gen --sessions 3 --seed 4 --format dir --out "$T/src" >"$T/gen.out" 2>&1 ||
  fail "tracelog gen: $(cat "$T/gen.out")"
"$tracelog" import --log "$T/log" "$T/src" >"$T/import.out" 2>&1 ||
  fail "tracelog import: $(cat "$T/import.out")"
id=$("$tracelog" list --log "$T/log" --format ndjson | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(max(rows, key=lambda r: r["events"])["session_id"] if rows else "")')
[[ -n $id ]] || fail "tracelog list --format ndjson named no session"

"$tracelog" replay --log "$T/log" "$id" --format ndjson >"$T/events.ndjson"
events=$(wc -l <"$T/events.ndjson")
((events > 0)) || fail "session $id has no events"
"$tracelog" replay --log "$T/log" "$id" --format html >"$T/s.html"

# One headless run; stderr (D-Bus noise and the like) is kept for a failure.
chrome_run() {
  local name=$1
  shift
  if ! timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$T/profile-$name" "$@" >"$T/$name.out" 2>"$T/$name.err"; then
    tail -20 "$T/$name.err" >&2
    fail "chromium exited with an error ($name)"
  fi
}

# 1. The page as written: rows, search box, script, no resources named.
chrome_run dom --dump-dom "file://$T/s.html"
python3 - "$T/dom.out" "$T/events.ndjson" "$id" <<'EOF' || exit 1
import json, sys
from html.parser import HTMLParser

dom_path, events_path, sid = sys.argv[1:]
want = [json.loads(l).get("event_type", "") for l in open(events_path, encoding="utf-8") if l.strip()]

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.inputs, self.scripts, self.fetching = [], [], [], []
        self.title, self.h1, self.at = "", "", None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.rows.append(a.get("class"))
        elif tag == "input":
            self.inputs.append(a)
        if tag in ("link", "img", "iframe", "object", "embed", "frame") or \
                any(k in ("src", "href") for k in a):
            self.fetching.append(self.get_starttag_text())
        self.at = tag
        if tag == "script":
            self.scripts.append("")
    def handle_endtag(self, tag):
        self.at = None
    def handle_data(self, data):
        if self.at == "script":
            self.scripts[-1] += data
        elif self.at == "title":
            self.title += data
        elif self.at == "h1":
            self.h1 += data

p = Page()
p.feed(open(dom_path, encoding="utf-8").read())
errors = []
if len(p.rows) != len(want):
    errors.append(f"the table has {len(p.rows)} rows, the session {len(want)} events")
else:
    for i, (got, exp) in enumerate(zip(p.rows, want)):
        if got != exp:
            errors.append(f"row {i + 1} has class {got!r}, event {i + 1} is {exp!r}")
            break
if not any(a.get("id") == "q" for a in p.inputs):
    errors.append("no input#q (the search box) in the DOM")
if not any("getElementById('q')" in s and "oninput" in s for s in p.scripts):
    errors.append("no script wiring the search box (getElementById('q') ... oninput)")
if sid not in p.title or sid not in p.h1:
    errors.append(f"title {p.title!r} / heading {p.h1!r} do not name session {sid}")
if p.fetching:
    errors.append(f"elements that load a resource: {p.fetching[:3]}")
for e in errors:
    print(f"check_html_replay: FAILED: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# 2. The search box, driven by a test appended to a copy of the page; the result is
# written into the DOM (pre#check) on load, after any resource would have loaded.
cat >"$T/probe.js" <<'EOF'
<script>
window.addEventListener('load', function () {
  var q = document.getElementById('q');
  var rows = [].slice.call(document.querySelectorAll('table tr'));
  function search(text) {
    q.value = text;
    q.dispatchEvent(new Event('input'));
    return rows.filter(function (r) { return r.style.display !== 'none'; }).length;
  }
  var r = {rows: rows.length,
           nothing: search('zzq-found-nowhere-qzz'),
           session_end: search('\u25a0 SESSION_END'),
           error: search('\u2717 ERROR'),
           all: search(''),
           resources: performance.getEntriesByType('resource').map(function (e) { return e.name; })};
  var out = document.createElement('pre');
  out.id = 'check';
  out.textContent = JSON.stringify(r);
  document.body.appendChild(out);
});
</script>
EOF
python3 - "$T/s.html" "$T/probe.js" "$T/probe.html" <<'EOF'
import sys
page, probe, out = sys.argv[1:]
html = open(page, encoding="utf-8").read()
assert "</body>" in html, "no </body> in the page"
open(out, "w", encoding="utf-8").write(html.replace("</body>", open(probe).read() + "</body>", 1))
EOF
chrome_run probe --virtual-time-budget=5000 --dump-dom "file://$T/probe.html"
python3 - "$T/probe.out" "$T/events.ndjson" <<'EOF' || exit 1
import html, json, re, sys
dom, events = sys.argv[1:]
m = re.search(r'<pre id="check">(.*?)</pre>', open(dom, encoding="utf-8").read(), re.S)
if not m:
    sys.exit("check_html_replay: FAILED: the search test left no result (did its script run?)")
r = json.loads(html.unescape(m.group(1)))
types = [json.loads(l).get("event_type", "") for l in open(events, encoding="utf-8") if l.strip()]
n = len(types)
want = {"rows": n, "nothing": 0, "session_end": types.count("session_end"),
        "error": types.count("error"), "all": n, "resources": []}
labels = {"rows": "rows", "nothing": "rows shown for a text found nowhere",
          "session_end": "rows shown for '\u25a0 SESSION_END'", "error": "rows shown for '\u2717 ERROR'",
          "all": "rows shown for an empty search",
          "resources": "network resources fetched by the page (Resource Timing)"}
bad = [f"{labels[k]}: {r.get(k)!r}, expected {v!r}" for k, v in want.items() if r.get(k) != v]
for b in bad:
    where = "" if b.startswith("network") else "search box: "
    print(f"check_html_replay: FAILED: {where}{b}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

if [[ -n ${SCREENSHOT:-} ]]; then
  chrome_run shot --hide-scrollbars --window-size=1200,900 --screenshot="$(realpath -m "$SCREENSHOT")" \
    "file://$T/s.html"
fi

echo "check_html_replay: OK ($events events, chromium $version)"
