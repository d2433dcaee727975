#!/usr/bin/env bash
# What serving the devtools page costs the main job: runs tenant_sim in
# alternating pairs, without devtools and with devtools served to a
# poller that asks what the page asks every second (a store's detail open), and
# prints each pair's commits/s and the ratio. Same machine, same run.
#   bench/devtools_cost.sh BUILD_DIR [PAIRS] [SECONDS] [tenant_sim args...]
set -euo pipefail
build=$1
pairs=${2:-3}
seconds=${3:-10}
shift $(( $# < 3 ? $# : 3 ))
sim="$build/examples/tenant_sim"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rate() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['commits']/r['run_time_s'])" "$1"; }

plain_sum=0; served_sum=0
printf "%-6s %14s %14s %8s\n" pair "plain c/s" "devtools c/s" ratio
plain() { "$sim" --duration "$seconds" --data "$work/d" --json "$work/plain.json" "$@" > /dev/null 2>&1; }
for p in $(seq "$pairs"); do
  # Odd pairs run the plain arm first, even pairs last: a drift of the disk
  # over the run (it slows as it fills) then weighs on both arms alike.
  [ $((p % 2)) -eq 1 ] && plain "$@"
  "$sim" --duration "$seconds" --data "$work/d" --json "$work/served.json" --devtools 0 "$@" \
    > "$work/served.out" 2>&1 &
  sim_pid=$!
  url=""
  for _ in $(seq 100); do
    url=$(grep -o 'http://[^ ]*' "$work/served.out" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.05
  done
  # What the page asks once a second with a store's detail open (as a
  # browser elsewhere would: the browser's own rendering is not this
  # machine's cost).
  while kill -0 "$sim_pid" 2>/dev/null; do
    for path in api/stores api/stores/workspace-0 "api/stores/workspace-0/events?limit=50" \
                api/stores/workspace-0/tables; do
      curl -s -o /dev/null --max-time 5 "$url$path" || true
    done
    sleep 1
  done
  wait "$sim_pid"
  [ $((p % 2)) -eq 0 ] && plain "$@"
  a=$(rate "$work/plain.json"); b=$(rate "$work/served.json")
  printf "%-6s %14.0f %14.0f %8.3f\n" "$p" "$a" "$b" "$(python3 -c "print($b/$a)")"
  plain_sum=$(python3 -c "print($plain_sum+$a)"); served_sum=$(python3 -c "print($served_sum+$b)")
done
printf "%-6s %14.0f %14.0f %8.3f   (bar: >= 0.95)\n" all "$(python3 -c "print($plain_sum/$pairs)")" \
  "$(python3 -c "print($served_sum/$pairs)")" "$(python3 -c "print($served_sum/$plain_sum)")"
