#!/usr/bin/env bash
# issue_server under issue_load, as separate processes on 127.0.0.1:
#  1. a short load run must see no error (every answer is checked);
#  2. the kill trial: SIGKILL the server during load, restart it on the same
#     data, and every write the load generator saw acknowledged must be there;
#  3. SIGTERM stops the server cleanly (exit 0).
# Usage: load_and_kill_test.sh ISSUE_SERVER ISSUE_LOAD WORK_DIR
set -euo pipefail
server=$1
load=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
pid=""
watchdog=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null; true' EXIT

start() {  # starts the server on the data dir, sets $pid and $url
  : > "$work/server.out"
  # Not under timeout(1): the kill below must reach the server itself. A
  # watchdog stands in for it.
  "$server" --data "$work/data" --port 0 --heartbeat-ms 200 > "$work/server.out" 2>&1 &
  pid=$!
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null || true
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    sleep 120 & nap=$!
    wait "$nap"
    kill -9 "$pid" 2>/dev/null
  ) > /dev/null 2>&1 &
  watchdog=$!
  url=""
  for _ in $(seq 200); do
    url=$(grep -o 'http://[^/ ]*' "$work/server.out" | head -1 || true)
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  echo "FAILED: the server printed no URL"; cat "$work/server.out"; exit 1
}

start
echo "== load: 3 s, 4 connections, 2 live streams"
timeout 60 "$load" --url "$url" --connections 4 --live 2 --duration 3 --workspaces 4 --issues 5 \
  --json "$work/load.json" | tee "$work/load.out"
grep -q "issue_load: no errors" "$work/load.out" || { echo "FAILED: the load run saw errors"; exit 1; }

echo "== kill trial: SIGKILL during load"
timeout 60 "$load" --url "$url" --connections 4 --live 1 --duration 30 --workspaces 4 --issues 5 \
  --until-gone --ledger "$work/ledger.jsonl" > "$work/kill-load.out" 2>&1 &
load_pid=$!
sleep 1.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
wait "$load_pid" || { echo "FAILED: the load generator failed"; cat "$work/kill-load.out"; exit 1; }
writes=$(wc -l < "$work/ledger.jsonl")
echo "acknowledged writes before the kill: $writes"
[ "$writes" -gt 0 ] || { echo "FAILED: nothing was acknowledged before the kill"; exit 1; }

start
timeout 60 "$load" --url "$url" --verify "$work/ledger.jsonl" | tee "$work/verify.out"
grep -q ", 0 missing" "$work/verify.out" || { echo "FAILED: acknowledged writes are missing"; exit 1; }

echo "== SIGTERM"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "FAILED: the server exited with $status after SIGTERM"; exit 1; }
grep -q "issue_server: stopped" "$work/server.out" || { echo "FAILED: no clean stop"; exit 1; }
echo "ok: load without errors, every acknowledged write survived SIGKILL, SIGTERM stops cleanly"
