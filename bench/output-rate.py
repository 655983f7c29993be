#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""How fast utrace writes JSON to a file: the 'output:' line of -v.

usage: bench/output-rate.py [--utrace PATH] [--calls 2000000]
                            [--bufsize 256M] [--rounds 3] [--keep]

Runs, --rounds times,

  utrace run -v --bufsize 256M -f bench_target -o FILE --json bench-calls N

(2 N events) and reads
  utrace: output: E events in D ms of draining (R M events/s)
The ring is large enough that the program is never held back by a full
ring, so the drain runs flat out; the target of the "Fast path" issue is
>= 3 M events/s to a file, on the median.  The trace must hold exactly N
entry and N exit events (nothing dropped) and the program must print the
untraced checksum; otherwise a WARNING and exit status 1.  Without the
output line (an older utrace) the rate is n/a; the wall-clock events per
second of the whole run are printed in any case, as a lower bound.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

from benchlib import (add_common_args, require_utrace, scratch_dir, TARGET,
                      build, find_line, finish, load_line, machine_line,
                      parse_output, read_checksum, trace_problems,
                      utrace_version, warn)

TARGET_MEVENTS = 3.0


def main():
    ap = argparse.ArgumentParser(description="utrace JSON output rate")
    ap.add_argument("--calls", type=int, default=2_000_000,
                    help="calls of bench_target, 2 events each "
                    "(default 2000000)")
    ap.add_argument("--bufsize", default="256M",
                    help="--bufsize of utrace, a power of two (default 256M)")
    add_common_args(ap, rounds=3, interleaved=False, kept="trace")
    args = ap.parse_args()
    if args.rounds < 1 or args.calls < 1:
        ap.error("--rounds and --calls must be at least 1")

    utrace = require_utrace(args.utrace, "output-rate")
    start = time.perf_counter()
    with scratch_dir("utrace-output-", args.keep) as tmp:
        exe, cc_cmd = build(tmp)
        trace = os.path.join(tmp, "trace.json")
        argv = [utrace, "run", "-v", "--bufsize", args.bufsize, "-f", TARGET,
                "-o", trace, "--json", exe, str(args.calls)]
        print(machine_line())
        print(load_line("start"))
        print("utrace:  %s" % utrace_version(utrace))
        print("build:   %s" % shlex.join(cc_cmd))
        print("command: %s" % shlex.join(argv), flush=True)
        want = read_checksum(subprocess.run(
            [exe, str(args.calls)], capture_output=True, text=True,
            check=True).stdout)
        rates, walls, missing = [], [], None
        for i in range(args.rounds):
            if os.path.exists(trace):
                os.unlink(trace)
            t0 = time.perf_counter()
            res = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True)
            secs = time.perf_counter() - t0
            if res.returncode != 0:
                warn("utrace exited with status %d: %s" % (
                    res.returncode, " | ".join(res.stderr.splitlines()[-3:])))
                break
            if read_checksum(res.stdout) != want:
                warn("checksum %s, untraced %s" % (read_checksum(res.stdout),
                                                   want))
            for p in trace_problems(trace, TARGET, args.calls):
                warn("round %d: %s" % (i + 1, p))
            walls.append(2 * args.calls / secs / 1e6)
            out = find_line(res.stderr, parse_output)
            if out:
                rates.append(out["mevents_per_s"])
                print("round %d/%d: %d events in %.1f ms of draining, %.3g M "
                      "events/s; whole run %.2f s" % (
                          i + 1, args.rounds, out["events"], out["drain_ms"],
                          out["mevents_per_s"], secs), flush=True)
            else:
                missing = "no 'output:' line from utrace -v (it said: %s)" % (
                    " | ".join(res.stderr.splitlines()[:2]) or "nothing")
                print("round %d/%d: output line n/a; whole run %.2f s, %.3g M "
                      "events/s wall" % (i + 1, args.rounds, secs,
                                         walls[-1]), flush=True)
        print()
        if walls:
            print("whole run, wall clock: median %.3g M events/s (a lower "
                  "bound: includes start-up and the program)" %
                  statistics.median(walls))
        if rates:
            m = statistics.median(rates)
            print("draining (utrace -v): median %.3g, min %.3g, max %.3g M "
                  "events/s" % (m, min(rates), max(rates)))
            print("target: %.3g M events/s >= %.3g M events/s to a file: %s" %
                  (m, TARGET_MEVENTS, "PASS" if m >= TARGET_MEVENTS else
                   "MISS"))
        else:
            print("target: >= %.3g M events/s to a file: n/a (%s)" % (
                TARGET_MEVENTS, missing or "no successful run"))
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
