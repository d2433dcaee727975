#!/usr/bin/env python3
"""What serving the devtools page costs the main job.

Runs tenant_sim with --devtools and reads its per-second commit rate. The
seconds go in pairs: in a shuffled order, one second of each pair gets one
refresh of the page with a store's detail open (the requests the page's timer
sends each second: the store list, the store, its newest 50 events, its
tables), the other gets none. Both arms share one process, one disk and one
minute, so a slow drift of the machine weighs on both alike; the ratio of the
arms' mean commit rates is the cost.

    bench/devtools_cost.py BUILD_DIR [--runs N] [--seconds S] [--store ID] [-- tenant_sim args]

Prints each run's arms, the ratio, and a 95% interval of the ratio from a
bootstrap over the pairs. The bar: the ratio is at least 0.95.
"""
import argparse
import http.client
import os
import random
import re
import subprocess
import sys
import tempfile

WARMUP_S = 3  # seconds skipped at the start: the stores are still loading


def page_refresh(port, store):
    """The page's timer: the store list, then the open store's detail, over
    one keep-alive connection (the server's cap is 5 requests on one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for path in ("/api/stores", f"/api/stores/{store}", f"/api/stores/{store}/events?limit=50",
                 f"/api/stores/{store}/tables"):
        conn.request("GET", path)
        res = conn.getresponse()
        res.read()
        if res.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {res.status}")
    conn.close()


def one_run(sim, seconds, store, extra, rng):
    rate_re = re.compile(r"commits/s=(\d+)")
    with tempfile.TemporaryDirectory() as work:
        proc = subprocess.Popen(
            [sim, "--duration", str(seconds), "--data", os.path.join(work, "d"), "--devtools", "0",
             "--json", os.path.join(work, "run.json"), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        try:
            url = None
            for line in proc.stdout:
                m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
                if m:
                    url = int(m.group(1))
                    break
            if url is None:
                raise RuntimeError("tenant_sim printed no devtools URL")
            # Seconds go in pairs, one on and one off in a shuffled order; a
            # pair is kept when both its seconds are past the warm-up.
            pairs = []
            pair = {}
            plan = []
            on = False
            second = 0
            for line in proc.stdout:
                m = rate_re.search(line)
                if not m:
                    continue
                second += 1
                if second > WARMUP_S:
                    pair[on] = float(m.group(1))
                if not plan:
                    if len(pair) == 2:
                        pairs.append((pair[True], pair[False]))
                    pair = {}
                    plan = [True, False]
                    rng.shuffle(plan)
                on = plan.pop() and second < seconds  # the last line: the server stops
                if on:
                    page_refresh(url, store)
        finally:
            proc.stdout.close()
            if proc.wait(timeout=60) != 0:
                raise RuntimeError(f"tenant_sim exited with {proc.returncode}")
    return pairs


def mean(xs):
    return sum(xs) / len(xs)


def ratio(pairs):
    return mean([on for on, _ in pairs]) / mean([off for _, off in pairs])


def ratio_interval(pairs, rng, rounds=2000):
    """A 95% bootstrap interval of the ratio, resampling whole pairs (so a
    slow stretch of the disk stays within its pair)."""
    ratios = sorted(ratio(rng.choices(pairs, k=len(pairs))) for _ in range(rounds))
    return ratios[int(rounds * 0.025)], ratios[int(rounds * 0.975)]


def report(name, pairs, rng):
    lo, hi = ratio_interval(pairs, rng)
    off = mean([x for _, x in pairs])
    on = mean([x for x, _ in pairs])
    return (f"{name:<5} {len(pairs):>6} {off:>10.0f} {on:>10.0f} {on / off:>7.3f}"
            f"  [{lo:.3f}, {hi:.3f}]")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--store", default="workspace-0", help="the store whose detail is open")
    p.add_argument("--seed", type=int, default=1, help="seed of the on/off order")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    a = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    a.extra = extra
    if a.runs < 1 or a.seconds <= WARMUP_S + 2:
        p.error(f"need --runs >= 1 and --seconds > {WARMUP_S + 2}")
    sim = os.path.join(a.build, "examples", "tenant_sim")
    rng = random.Random(a.seed)
    all_on, all_off = [], []
    print(f"{'run':<5} {'pairs':>6} {'off c/s':>10} {'on c/s':>10} {'ratio':>7}  95% interval")
    every = []
    for r in range(1, a.runs + 1):
        pairs = one_run(sim, a.seconds, a.store, a.extra, rng)
        print(report(str(r), pairs, rng), flush=True)
        every += pairs
    verdict = "PASS" if ratio(every) >= 0.95 else "FAIL"
    print(report("all", every, rng) + f"  bar >= 0.95: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
