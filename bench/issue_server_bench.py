#!/usr/bin/env python3
"""What multistore costs per request behind a real HTTP server.

Runs issue_load against issue_server on multistore (file stores, a fresh
data directory) and against issue_server --baseline (the same HTTP layer,
checks and JSON, answered from maps behind one mutex in memory), in the
order multistore, baseline, baseline, multistore for each round (a drift of
the machine weighs on both alike), and prints per route the requests per
second and the p50 / p99 latency of each, and the throughput ratio.

    bench/issue_server_bench.py BUILD_DIR [--rounds N] [--seconds S] [--connections C] [--live L]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def one_run(build, baseline, args, work, tag):
    data = os.path.join(work, "data-" + tag)
    server = subprocess.Popen(
        [os.path.join(build, "examples", "issue_server"), "--data", data, "--port", "0",
         "--threads", str(args.connections + args.live + 8)] + (["--baseline"] if baseline else []),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"http://[^/ ]+", line)
        if not m:
            raise RuntimeError("issue_server printed no URL: " + line)
        report = os.path.join(work, tag + ".json")
        subprocess.run(
            [os.path.join(build, "examples", "issue_load"), "--url", m.group(0), "--connections",
             str(args.connections), "--live", str(args.live), "--duration", str(args.seconds),
             "--workspaces", "16", "--issues", "50", "--json", report],
            check=True, stdout=subprocess.DEVNULL, timeout=args.seconds + 120)
        with open(report) as f:
            return json.load(f)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--live", type=int, default=8)
    a = p.parse_args()
    runs = {False: [], True: []}
    with tempfile.TemporaryDirectory() as work:
        for r in range(a.rounds):
            for k, baseline in enumerate((False, True, True, False)):
                runs[baseline].append(one_run(a.build, baseline, a, work, f"r{r}-{k}"))
    routes = [x["route"] for x in runs[False][0]["routes"]] + ["all"]

    def figures(reports, route):
        rate = p50 = p99 = 0.0
        for rep in reports:
            if route == "all":
                rate += rep["per_s"]
                continue
            x = next(x for x in rep["routes"] if x["route"] == route)
            rate += x["per_s"]
            p50 += x["p50_ms"]
            p99 += x["p99_ms"]
        n = len(reports)
        return rate / n, p50 / n, p99 / n

    errors = sum(rep["errors"] for rs in runs.values() for rep in rs)
    print(f"{a.connections} connections, {a.live} live streams, {a.seconds} s per run, "
          f"{2 * a.rounds} runs per side (means), {errors} errors")
    print(f"{'route':<14} {'multistore/s':>12} {'p50 ms':>7} {'p99 ms':>7}   {'baseline/s':>10} "
          f"{'p50 ms':>7} {'p99 ms':>7}   {'ratio':>6}")
    for route in routes:
        m = figures(runs[False], route)
        b = figures(runs[True], route)
        lat = lambda f: (f"{f[1]:>7.2f} {f[2]:>7.2f}" if route != "all" else f"{'':>7} {'':>7}")
        print(f"{route:<14} {m[0]:>12.0f} {lat(m)}   {b[0]:>10.0f} {lat(b)}   {m[0] / b[0]:>6.3f}")
    live = [sum(rep["live_messages"] for rep in runs[k]) / len(runs[k]) for k in (False, True)]
    print(f"live messages per run: multistore {live[0]:.0f}, baseline {live[1]:.0f}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
