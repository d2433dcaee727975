#!/usr/bin/env bash
# The devtools page in Debian's headless Chromium: loads it from a running
# registry, dumps the DOM after the page's scripts ran, and checks that the
# store table lists the stores with their phases and that a store's detail
# shows its events; then takes a screenshot. Usage: browser_test.sh PAGE_SERVER OUT_DIR
set -euo pipefail
server=$1
out=$2
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "SKIPPED: chromium is not installed (scripts/test installs it)"
  exit 0
fi
mkdir -p "$out"
timeout 120 "$server" 90 > "$out/url.txt" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ -s "$out/url.txt" ] && break
  sleep 0.1
done
url=$(head -1 "$out/url.txt")
[ -n "$url" ] || { echo "the page server printed no URL"; exit 1; }
echo "page at $url"
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
       --user-data-dir="$out/profile" --virtual-time-budget=5000 --window-size=1400,700)
timeout 90 "$browser" "${flags[@]}" --dump-dom "${url}#store=issue-1" > "$out/dom.html" 2> "$out/chromium.log"
check() {
  if grep -qF -- "$1" "$out/dom.html"; then
    echo "ok: $2"
  else
    echo "FAILED: $2 (no '$1' in the DOM; see $out/dom.html)"
    exit 1
  fi
}
check 'data-id="issue-1"' "the table lists issue-1"
check 'data-id="notes-1"' "the table lists notes-1"
check '<span class="phase active">active</span>' "a store shows as active"
check '<span class="phase inactive">inactive</span>' "a store shows as inactive"
check '<td class="name">comment_added</td>' "issue-1's detail shows its comment events"
check '<td class="name">issue_created</td>' "issue-1's detail shows its first event"
check 'fixed by the retry' "an event's arguments are shown"
check '<h3>State tables</h3>' "issue-1's detail shows its state tables"
check '#1 SELECT count(*) AS n FROM comments' "issue-1's detail shows its subscription"
timeout 90 "$browser" "${flags[@]}" --screenshot="$out/devtools.png" "${url}#store=issue-1" \
  2>> "$out/chromium.log" > /dev/null
[ -s "$out/devtools.png" ] || { echo "FAILED: no screenshot"; exit 1; }
echo "ok: screenshot at $out/devtools.png"
