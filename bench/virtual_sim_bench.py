#!/usr/bin/env python3
"""The speed bar of tenant_sim --virtual: 24 virtual hours of 10 000 tenants
at a mean of 50 requests per virtual second must simulate in at most 60 s of
wall time (at least 1 440x real time). The baseline is real time itself: the
ratio is virtual seconds over wall seconds, measured in this run.

  bench/virtual_sim_bench.py [--tenant-sim PATH] [--json FILE] [--virtual 24h]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

BAR = 1440.0  # x real time: 24 h in 60 s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenant-sim", default=os.path.join(here, "..", "build", "examples", "tenant_sim"))
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--virtual", default="24h", help="virtual time to simulate (the bar is for 24h)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        report_file = os.path.join(tmp, "report.json")
        cmd = [args.tenant_sim, "--virtual", args.virtual, "-W", "10000", "--rate", "50",
               "--json", report_file]
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=1800)
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            print(f"virtual_sim: tenant_sim exited with {run.returncode}")
            return 1
        with open(report_file) as f:
            report = json.load(f)

    total = report["total"]
    wall = report["wall"]["seconds"]
    virtual = report["model"]["duration_ms"] / 1000.0
    speedup = virtual / wall
    ok = speedup >= BAR
    print(f"{'measure':58s} {'wall s':>8s} {'virtual s':>10s} {'ratio':>8s} {'bar':>8s}")
    name = (f"{args.virtual} virtual, 10 000 tenants, 50 req/s "
            f"({total['requests']} requests, {total['loads']} loads)")
    print(f"{name:58s} {wall:8.1f} {virtual:10.0f} {speedup:7.0f}x {'>=' + str(int(BAR)) + 'x':>8s} "
          f"{'PASS' if ok else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"virtual": args.virtual, "virtual_seconds": virtual, "wall_seconds": wall,
                       "speedup": speedup, "bar": BAR, "pass": ok, "requests": total["requests"],
                       "sessions": total["sessions"], "loads": total["loads"]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
